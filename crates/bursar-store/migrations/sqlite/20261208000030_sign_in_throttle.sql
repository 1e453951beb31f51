-- Failed sign-ins per subject (`account:<email>` or `address:<ip>`), so that
-- every node refuses a locked subject alike.
CREATE TABLE sign_in_throttle (
    subject TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);
