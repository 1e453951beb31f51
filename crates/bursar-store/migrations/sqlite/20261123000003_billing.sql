-- Subscriptions, invoices with lines, gapless invoice numbering, cancellation feedback.

CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    plan_id TEXT NOT NULL REFERENCES plans(id),
    price_id TEXT NOT NULL REFERENCES prices(id),
    currency TEXT NOT NULL,
    billing_interval TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    status TEXT NOT NULL,
    anchor_at BIGINT NOT NULL,
    current_period_start BIGINT NOT NULL,
    current_period_end BIGINT NOT NULL,
    trial_end BIGINT,
    cancel_at_period_end BIGINT NOT NULL,
    canceled_at BIGINT,
    pending_price_id TEXT REFERENCES prices(id),
    pending_plan_id TEXT REFERENCES plans(id),
        pause_resumes_at BIGINT,
    coupon_id TEXT,
    discount_invoices_left BIGINT,

    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX subscriptions_customer ON subscriptions(livemode, customer_id);
CREATE INDEX subscriptions_due ON subscriptions(status, current_period_end);

CREATE TABLE invoice_series (
    livemode BIGINT NOT NULL,
    series TEXT NOT NULL,
    next_number BIGINT NOT NULL,
    PRIMARY KEY (livemode, series)
);

CREATE TABLE invoices (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    number TEXT,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    subscription_id TEXT REFERENCES subscriptions(id),
    status TEXT NOT NULL,
    billing_reason TEXT NOT NULL,
    currency TEXT NOT NULL,
    subtotal BIGINT NOT NULL,
    tax BIGINT NOT NULL,
    total BIGINT NOT NULL,
    tax_behavior TEXT NOT NULL,
    tax_details TEXT NOT NULL,
    credit_applied BIGINT NOT NULL,
    amount_due BIGINT NOT NULL,
    amount_paid BIGINT NOT NULL,
    period_start BIGINT,
    period_end BIGINT,
    customer_snapshot TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    finalized_at BIGINT,
    paid_at BIGINT
);
CREATE UNIQUE INDEX invoices_number ON invoices(livemode, number) WHERE number IS NOT NULL;
CREATE INDEX invoices_customer ON invoices(livemode, customer_id, id);
-- A subscription is invoiced at most once per period and reason: a rerun
-- after a crash cannot double-invoice.
CREATE UNIQUE INDEX invoices_period ON invoices(subscription_id, billing_reason, period_start)
    WHERE subscription_id IS NOT NULL AND billing_reason IN ('subscription_create', 'subscription_cycle');

CREATE TABLE invoice_lines (
    id TEXT PRIMARY KEY,
    invoice_id TEXT NOT NULL REFERENCES invoices(id),
    position BIGINT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    unit_amount BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    price_id TEXT,
    period_start BIGINT,
    period_end BIGINT
);
CREATE INDEX invoice_lines_invoice ON invoice_lines(invoice_id, position);

CREATE TABLE cancellation_feedback (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    subscription_id TEXT NOT NULL REFERENCES subscriptions(id),
    reason TEXT NOT NULL,
    comments TEXT,
    would_return BIGINT,
    offer TEXT,
    outcome TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE coupons (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    rules TEXT NOT NULL,
    active BIGINT NOT NULL,
    redemptions BIGINT NOT NULL,
    max_redemptions BIGINT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX coupons_code ON coupons(livemode, code);

CREATE TABLE coupon_redemptions (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    coupon_id TEXT NOT NULL REFERENCES coupons(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    subscription_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX coupon_redemptions_customer ON coupon_redemptions(coupon_id, customer_id);

-- Credit notes: refunds and adjustments against an issued invoice.
CREATE TABLE credit_notes (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    number TEXT NOT NULL,
    invoice_id TEXT NOT NULL REFERENCES invoices(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    currency TEXT NOT NULL,
    subtotal BIGINT NOT NULL,
    tax BIGINT NOT NULL,
    total BIGINT NOT NULL,
    refund_to TEXT NOT NULL,
    reason TEXT NOT NULL,
    tax_details TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX credit_notes_number ON credit_notes(livemode, number);
CREATE INDEX credit_notes_invoice ON credit_notes(invoice_id);
