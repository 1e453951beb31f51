-- Payouts through providers (Stripe Connect transfers, PayPal Payouts).
-- A provider payout is inserted pending by the run and sent after the run
-- commits; an unknown outcome stays pending until a check settles it.

-- The provider's id of the payout: Stripe tr_…, PayPal payout_batch_id.
ALTER TABLE payouts ADD COLUMN provider_ref TEXT;
-- Where the money goes, fixed when the payout is made: a Stripe connected
-- account (acct_…) or a PayPal email.
ALTER TABLE payouts ADD COLUMN destination TEXT;
-- Why it failed, or the last unclear answer while pending.
ALTER TABLE payouts ADD COLUMN failure_message TEXT;
-- When to ask the provider next (server clock, epoch ms); NULL once settled.
ALTER TABLE payouts ADD COLUMN next_check_at BIGINT;
-- How many times it was sent or asked about. Raised (and committed) before
-- each call, so after a crash the next attempt looks the payout up before
-- sending it again.
ALTER TABLE payouts ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;

CREATE INDEX payouts_due ON payouts(status, next_check_at);

-- A failed payout does not count as the payee's payout of the period: its
-- earnings and commissions are released and a later run pays them.
DROP INDEX payouts_once;
CREATE UNIQUE INDEX payouts_once ON payouts(livemode, payee_kind, payee_id, currency, period) WHERE status <> 'failed';
