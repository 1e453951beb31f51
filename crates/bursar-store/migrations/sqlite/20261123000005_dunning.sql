-- Saved payment methods (sandbox tokens until the provider connectors land)
-- and the dunning schedule of invoices whose charge failed.
CREATE TABLE payment_methods (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    provider TEXT NOT NULL,
    token TEXT NOT NULL,
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    is_default BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX payment_methods_customer ON payment_methods(customer_id, is_default);

CREATE TABLE dunning (
    invoice_id TEXT PRIMARY KEY REFERENCES invoices(id),
    livemode BIGINT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    subscription_id TEXT REFERENCES subscriptions(id),
    state TEXT NOT NULL,
    attempt_count BIGINT NOT NULL,
    first_failed_at BIGINT NOT NULL,
    next_attempt_at BIGINT,
    last_error TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX dunning_due ON dunning(state, next_attempt_at);
