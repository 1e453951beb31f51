-- A cart can start a subscription along with its courses: the plan, the
-- billing interval and the seats. The price is the plan's current one in
-- the cart's currency, read when the cart is shown and checked out (as a
-- course's is). The order of such a cart names the subscription its
-- checkout started.
ALTER TABLE carts ADD COLUMN plan_id TEXT;
ALTER TABLE carts ADD COLUMN billing_interval TEXT;
ALTER TABLE carts ADD COLUMN quantity BIGINT NOT NULL DEFAULT 1;
ALTER TABLE orders ADD COLUMN subscription_id TEXT;
