-- The order whose payment earned a referral's reward, and how much of the
-- reward was taken back when that order was refunded in full:
-- pending → rewarded → reversed (and back to rewarded if the refund is
-- refused by the provider).
ALTER TABLE referrals ADD COLUMN order_id TEXT;
ALTER TABLE referrals ADD COLUMN reversed_amount BIGINT NOT NULL DEFAULT 0;
CREATE INDEX referrals_order ON referrals(order_id);
