-- The learner referral program: give X to the new learner, get Y for the
-- learner who referred them, both as customer credit.

-- One program per mode: amounts per currency (JSON {"EUR": 500}).
CREATE TABLE referral_programs (
    livemode BIGINT PRIMARY KEY,
    give TEXT NOT NULL,
    reward TEXT NOT NULL,
    active BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE referral_codes (
    customer_id TEXT PRIMARY KEY REFERENCES customers(id),
    livemode BIGINT NOT NULL,
    code TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX referral_codes_code ON referral_codes(livemode, code);

-- pending (the new learner has not bought yet) → rewarded.
CREATE TABLE referrals (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    referrer_id TEXT NOT NULL REFERENCES customers(id),
    referee_id TEXT NOT NULL REFERENCES customers(id),
    code TEXT NOT NULL,
    status TEXT NOT NULL,
    give_currency TEXT,
    give_amount BIGINT NOT NULL,
    reward_currency TEXT,
    reward_amount BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    rewarded_at BIGINT
);
CREATE UNIQUE INDEX referrals_referee ON referrals(referee_id);
CREATE INDEX referrals_referrer ON referrals(referrer_id);
