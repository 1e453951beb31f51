-- Billing portal sessions: the platform opens one for a signed-in learner
-- (POST /v1/portal_sessions) and sends them to its one-time link; the
-- portal keeps only the token's hash. `csrf` is the secret every form of
-- the session carries.
CREATE TABLE portal_sessions (
    token_hash TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    return_url TEXT,
    csrf TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX portal_sessions_customer ON portal_sessions(customer_id);
