-- Payments through providers, saved methods with their provider details,
-- and the raw webhook events providers send.

-- One row per attempt to move money. `id` is also the provider
-- idempotency key's root, so an attempt retried after a timeout or a crash
-- can never charge twice.
CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    invoice_id TEXT REFERENCES invoices(id),
    checkout_session_id TEXT,
    provider TEXT NOT NULL,
    provider_payment_id TEXT,
    method_id TEXT,
    method_brand TEXT,
    method_last4 TEXT,
    method_exp_month BIGINT,
    method_exp_year BIGINT,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    amount_refunded BIGINT NOT NULL,
    fee BIGINT,
    -- pending → processing → completed | failed | refunded | cancelled
    status TEXT NOT NULL,
    failure_code TEXT,
    failure_message TEXT,
    description TEXT NOT NULL,
    -- When an unsettled payment is next asked about (recovery).
    next_check_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX payments_invoice ON payments(invoice_id);
CREATE INDEX payments_customer ON payments(livemode, customer_id, id);
CREATE INDEX payments_unsettled ON payments(status, next_check_at);
CREATE UNIQUE INDEX payments_provider_id ON payments(provider, provider_payment_id) WHERE provider_payment_id IS NOT NULL;

ALTER TABLE payment_methods ADD COLUMN provider_customer TEXT;
ALTER TABLE payment_methods ADD COLUMN exp_month BIGINT;
ALTER TABLE payment_methods ADD COLUMN exp_year BIGINT;
ALTER TABLE payment_methods ADD COLUMN deleted_at BIGINT;

-- Every verified provider webhook, kept raw for replay; applied once.
CREATE TABLE provider_events (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    -- received, applied, ignored, flagged
    status TEXT NOT NULL,
    note TEXT,
    payment_id TEXT,
    received_at BIGINT NOT NULL,
    processed_at BIGINT
);
CREATE UNIQUE INDEX provider_events_once ON provider_events(provider, event_id);
