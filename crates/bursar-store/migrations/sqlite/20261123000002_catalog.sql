-- Catalog: products, plans (tiers as data), versioned prices.

CREATE TABLE products (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    active BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX products_code ON products(livemode, code);

CREATE TABLE plans (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    product_id TEXT NOT NULL REFERENCES products(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    tier_rank BIGINT NOT NULL,
    trial_days BIGINT NOT NULL,
    trial_card_required BIGINT NOT NULL,
    features TEXT NOT NULL,
    limits TEXT NOT NULL,
    flags TEXT NOT NULL,
    active BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX plans_code ON plans(livemode, code);

-- A price never changes: a new amount is a new version, and the old one
-- stays for the subscriptions that use it.
CREATE TABLE prices (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    plan_id TEXT NOT NULL REFERENCES plans(id),
    currency TEXT NOT NULL,
    billing_interval TEXT NOT NULL,
    amount BIGINT NOT NULL,
    tax_behavior TEXT NOT NULL,
    version BIGINT NOT NULL,
    active BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    superseded_at BIGINT
);
CREATE UNIQUE INDEX prices_active ON prices(plan_id, currency, billing_interval) WHERE active = 1;
CREATE UNIQUE INDEX prices_version ON prices(plan_id, currency, billing_interval, version);
