-- Every checkout session a cart opened, so a late payment of an earlier
-- one still finds its cart and records its order.
CREATE TABLE cart_sessions (
    session_id TEXT PRIMARY KEY,
    cart_id TEXT NOT NULL REFERENCES carts(id)
);
INSERT INTO cart_sessions (session_id, cart_id)
    SELECT checkout_session_id, id FROM carts WHERE checkout_session_id IS NOT NULL;

-- What each credit note took back from each order item, so a refund the
-- provider refuses is undone exactly.
CREATE TABLE order_refunds (
    credit_note_id TEXT NOT NULL,
    order_item_id TEXT NOT NULL REFERENCES order_items(id),
    refunded_net BIGINT NOT NULL,
    clawed_back BIGINT NOT NULL,
    commission_cancelled BIGINT NOT NULL,
    PRIMARY KEY (credit_note_id, order_item_id)
);
