-- Outgoing webhooks: endpoints registered by the platform, one delivery per
-- (endpoint, event) queued from the event outbox, and every attempt made.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    url TEXT NOT NULL,
    description TEXT,
    -- The signing secret; after a roll the previous one keeps signing (as a
    -- second `v1`) until previous_secret_expires_at.
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_expires_at BIGINT,
    -- JSON array of event types, `prefix.*` families, or `*`.
    enabled_events TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_list ON webhook_endpoints(livemode, id);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    livemode BIGINT NOT NULL,
    -- pending, succeeded, or failed (gave up).
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT,
    first_attempt_at BIGINT,
    last_attempt_at BIGINT,
    last_status_code BIGINT,
    last_error TEXT,
    last_response_snippet TEXT,
    last_duration_ms BIGINT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries(endpoint_id, id);
CREATE INDEX webhook_deliveries_log_status ON webhook_deliveries(endpoint_id, status, id);

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id),
    attempt BIGINT NOT NULL,
    manual BIGINT NOT NULL,
    attempted_at BIGINT NOT NULL,
    status_code BIGINT,
    error TEXT,
    response_snippet TEXT,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
