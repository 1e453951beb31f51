-- Refunds to the payment method: one per credit note that sends money
-- back through the provider that took the payment. `id` roots the
-- provider's idempotency key.
CREATE TABLE refunds (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    credit_note_id TEXT NOT NULL REFERENCES credit_notes(id),
    payment_id TEXT NOT NULL REFERENCES payments(id),
    provider TEXT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    -- pending, succeeded, failed
    status TEXT NOT NULL,
    provider_refund_id TEXT,
    failure_message TEXT,
    next_check_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX refunds_payment ON refunds(payment_id);
CREATE INDEX refunds_unsettled ON refunds(status, next_check_at);
