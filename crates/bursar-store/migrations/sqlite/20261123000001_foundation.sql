-- Foundation: customers, keys, staff, idempotency, test clocks, ledger, events, audit.
-- Portable column set: TEXT, BIGINT (epoch milliseconds for time, minor units for money).

CREATE TABLE test_clocks (
    id TEXT PRIMARY KEY,
    name TEXT,
    frozen_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
);

CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    external_id TEXT,
    email TEXT,
    name TEXT,
    phone TEXT,
    country TEXT,
    locale TEXT,
    preferred_currency TEXT,
    address TEXT,
    tax_ids TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}',
    test_clock_id TEXT REFERENCES test_clocks(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE UNIQUE INDEX customers_external_id ON customers(livemode, external_id)
    WHERE external_id IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX customers_email ON customers(livemode, email);
CREATE INDEX customers_list ON customers(livemode, id);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    redacted TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);

CREATE TABLE staff_users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE staff_sessions (
    token_hash TEXT PRIMARY KEY,
    staff_id TEXT NOT NULL REFERENCES staff_users(id),
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE idempotency_keys (
    livemode BIGINT NOT NULL,
    idem_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    state TEXT NOT NULL,
    response_status BIGINT,
    response_body TEXT,
    locked_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (livemode, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

CREATE TABLE ledger_entries (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    currency TEXT NOT NULL,
    description TEXT NOT NULL,
    source_type TEXT,
    source_id TEXT,
    reverses_entry_id TEXT UNIQUE REFERENCES ledger_entries(id),
    effective_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ledger_entries_source ON ledger_entries(source_type, source_id);
CREATE INDEX ledger_entries_list ON ledger_entries(livemode, id);

CREATE TABLE ledger_postings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id TEXT NOT NULL REFERENCES ledger_entries(id),
    livemode BIGINT NOT NULL,
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    effective_at BIGINT NOT NULL
);
CREATE INDEX ledger_postings_entry ON ledger_postings(entry_id);
CREATE INDEX ledger_postings_account ON ledger_postings(livemode, account, currency, effective_at);

CREATE TABLE ledger_balances (
    livemode BIGINT NOT NULL,
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    balance_minor BIGINT NOT NULL,
    posting_count BIGINT NOT NULL,
    PRIMARY KEY (livemode, account, currency)
);

CREATE TRIGGER ledger_entries_immutable_u BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END;
CREATE TRIGGER ledger_entries_immutable_d BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END;
CREATE TRIGGER ledger_postings_immutable_u BEFORE UPDATE ON ledger_postings
BEGIN SELECT RAISE(ABORT, 'ledger postings are immutable'); END;
CREATE TRIGGER ledger_postings_immutable_d BEFORE DELETE ON ledger_postings
BEGIN SELECT RAISE(ABORT, 'ledger postings are immutable'); END;

-- The outbox: every change that others must hear about writes an event in
-- the same transaction.
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    type TEXT NOT NULL,
    object_id TEXT,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_list ON events(livemode, id);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    actor_type TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    action TEXT NOT NULL,
    object_id TEXT,
    details TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
