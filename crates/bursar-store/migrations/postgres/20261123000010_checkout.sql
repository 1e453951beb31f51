-- Hosted checkout sessions: a plan (subscription) or a cart (one-off
-- items), paid on Bursar's page or the provider's hosted page.
CREATE TABLE checkout_sessions (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    -- subscription or payment
    mode TEXT NOT NULL,
    plan_id TEXT,
    price_id TEXT,
    quantity BIGINT NOT NULL,
    -- JSON array of {description, quantity, unit_amount} (payment mode)
    items TEXT NOT NULL,
    currency TEXT NOT NULL,
    coupon TEXT,
    success_url TEXT NOT NULL,
    cancel_url TEXT NOT NULL,
    -- open, complete, expired
    status TEXT NOT NULL,
    -- The secret in the page's forms (the page URL alone is not enough to pay).
    form_token TEXT NOT NULL,
    provider TEXT,
    subscription_id TEXT,
    invoice_id TEXT,
    payment_id TEXT,
    last_error TEXT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX checkout_sessions_open ON checkout_sessions(status, expires_at);
