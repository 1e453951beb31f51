-- Credits bought or granted on top of a plan's allowance (AI credit
-- top-ups), each with its own expiry, used after the allowance, the one
-- expiring first first.
CREATE TABLE credit_grants (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    metric TEXT NOT NULL,
    amount BIGINT NOT NULL,
    remaining BIGINT NOT NULL,
    expires_at BIGINT,
    -- api, checkout
    source TEXT NOT NULL,
    source_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX credit_grants_customer ON credit_grants(livemode, customer_id, metric);

-- A checkout that sells credits: {metric, amount, expires_in_days}.
ALTER TABLE checkout_sessions ADD COLUMN credit_grant TEXT;
