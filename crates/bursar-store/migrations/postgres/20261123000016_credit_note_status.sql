-- A credit note whose refund the provider refused is void: it credits nothing.
ALTER TABLE credit_notes ADD COLUMN status TEXT NOT NULL DEFAULT 'issued';
