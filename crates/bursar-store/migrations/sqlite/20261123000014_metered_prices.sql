-- Metered usage prices of a plan (JSON array of {metric, currency, pricing}).
ALTER TABLE plans ADD COLUMN metered TEXT NOT NULL DEFAULT '[]';
