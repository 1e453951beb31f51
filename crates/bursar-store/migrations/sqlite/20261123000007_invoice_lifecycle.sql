-- Invoices that staff and platforms write by hand: drafts edited until
-- finalized, collected automatically or sent with a due date, and voided.
ALTER TABLE invoices ADD COLUMN description TEXT;
ALTER TABLE invoices ADD COLUMN collection_method TEXT NOT NULL DEFAULT 'charge_automatically';
ALTER TABLE invoices ADD COLUMN due_at BIGINT;
ALTER TABLE invoices ADD COLUMN voided_at BIGINT;
