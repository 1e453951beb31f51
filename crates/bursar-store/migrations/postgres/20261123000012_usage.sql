-- Usage metering: metrics as data, usage events (idempotent by the
-- platform's event id), and per-period counters that make check-and-consume
-- atomic.
CREATE TABLE metrics (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    -- count, sum, max, unique_count, latest
    aggregation TEXT NOT NULL,
    -- The property whose value unique_count counts.
    property TEXT,
    -- billing_period or calendar_month
    time_window TEXT NOT NULL,
    -- The plan limit that caps it (e.g. tests_per_month).
    limit_key TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX metrics_code ON metrics(livemode, code);

CREATE TABLE usage_events (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    metric TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    unique_value TEXT,
    properties TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    period_start BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX usage_events_once ON usage_events(livemode, event_id);
CREATE INDEX usage_events_period ON usage_events(customer_id, metric, period_start);

CREATE TABLE usage_counters (
    livemode BIGINT NOT NULL,
    customer_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    period_start BIGINT NOT NULL,
    used BIGINT NOT NULL,
    PRIMARY KEY (livemode, customer_id, metric, period_start)
);
