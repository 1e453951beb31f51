-- Transactional emails: rendered from events (and the trial-ending scan)
-- into this outbox, then delivered by the configured transport.
CREATE TABLE emails (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    dedupe_key TEXT NOT NULL UNIQUE,
    customer_id TEXT,
    kind TEXT NOT NULL,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX emails_pending ON emails(status, created_at);

-- How far each consumer of the event outbox has read.
CREATE TABLE outbox_cursors (
    consumer TEXT PRIMARY KEY,
    last_event_id TEXT NOT NULL
);
