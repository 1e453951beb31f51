-- The mode of a provider event: that of the payment it concerned; unknown
-- (NULL) for events that named no payment of Bursar's, which only live
-- keys see.
ALTER TABLE provider_events ADD COLUMN livemode BIGINT;
