-- What a running calibration is doing, for forms large enough that it takes
-- a while: the phase (loading, classical, em, newton, scoring, finishing,
-- saving), the EM or Newton cycle of the model being fitted, and when the
-- runner last reported.
ALTER TABLE calibrations ADD COLUMN phase TEXT;
ALTER TABLE calibrations ADD COLUMN iteration BIGINT;
ALTER TABLE calibrations ADD COLUMN progress_at BIGINT;
