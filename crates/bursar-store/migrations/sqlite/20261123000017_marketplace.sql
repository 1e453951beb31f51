-- The course marketplace: instructors and what they sell, carts, orders and
-- enrollments, the revenue split of every sale, instructor earnings and
-- payouts, affiliates and their commissions, reviews and wishlists.

-- A seller, known by the platform's own user id.
CREATE TABLE instructors (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    external_id TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    -- standard (70 % by default) or enterprise (75 %)
    tier TEXT NOT NULL,
    -- a share agreed with this instructor, in basis points; none: the tier's
    share_bps BIGINT,
    -- sandbox, bank_transfer, stripe_connect, paypal
    payout_method TEXT NOT NULL,
    -- JSON: the payee's account at that method (IBAN, acct_…, PayPal email)
    payout_details TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX instructors_external ON instructors(livemode, external_id);

-- Short-lived bearer tokens the platform creates for an instructor: they
-- reach that instructor's own courses, sales, earnings and payouts only.
CREATE TABLE instructor_sessions (
    token_hash TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    instructor_id TEXT NOT NULL REFERENCES instructors(id),
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Courses and bundles (kind = bundle; its courses in bundle_items).
CREATE TABLE courses (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    instructor_id TEXT NOT NULL REFERENCES instructors(id),
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    subtitle TEXT NOT NULL,
    description TEXT NOT NULL,
    -- JSON array of topic strings
    topics TEXT NOT NULL,
    -- beginner, intermediate, advanced, all
    level TEXT NOT NULL,
    language TEXT NOT NULL,
    duration_minutes BIGINT NOT NULL,
    thumbnail_key TEXT,
    -- JSON array of {title, key}: material references in object storage
    materials TEXT NOT NULL,
    -- draft, published, archived
    status TEXT NOT NULL,
    published_at BIGINT,
    -- ratings kept exact as integers; the average is sum / count
    rating_sum BIGINT NOT NULL DEFAULT 0,
    rating_count BIGINT NOT NULL DEFAULT 0,
    sales_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX courses_instructor ON courses(livemode, instructor_id);
CREATE INDEX courses_status ON courses(livemode, status, id);

CREATE TABLE course_prices (
    course_id TEXT NOT NULL REFERENCES courses(id),
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (course_id, currency)
);

CREATE TABLE bundle_items (
    bundle_id TEXT NOT NULL REFERENCES courses(id),
    course_id TEXT NOT NULL REFERENCES courses(id),
    PRIMARY KEY (bundle_id, course_id)
);

CREATE TABLE carts (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    currency TEXT NOT NULL,
    coupon TEXT,
    -- the affiliate click the sale is attributed to, when any
    click_id TEXT,
    -- open, checked_out
    status TEXT NOT NULL,
    checkout_session_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX carts_customer ON carts(livemode, customer_id);

CREATE TABLE cart_items (
    cart_id TEXT NOT NULL REFERENCES carts(id),
    course_id TEXT NOT NULL REFERENCES courses(id),
    added_at BIGINT NOT NULL,
    PRIMARY KEY (cart_id, course_id)
);

-- ORD-YYYY-NNNNNN, written when the payment succeeds.
CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    number TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    currency TEXT NOT NULL,
    subtotal BIGINT NOT NULL,
    discount BIGINT NOT NULL,
    tax BIGINT NOT NULL,
    total BIGINT NOT NULL,
    -- paid, partially_refunded, refunded
    status TEXT NOT NULL,
    invoice_id TEXT NOT NULL REFERENCES invoices(id),
    checkout_session_id TEXT,
    cart_id TEXT,
    coupon TEXT,
    affiliate_id TEXT,
    -- JSON snapshot of the buyer's billing details
    billing_address TEXT NOT NULL,
    refunded_net BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX orders_number ON orders(livemode, number);
CREATE UNIQUE INDEX orders_invoice ON orders(invoice_id);
CREATE INDEX orders_customer ON orders(livemode, customer_id);

-- One sold course or bundle and how its net was split.
CREATE TABLE order_items (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id),
    course_id TEXT NOT NULL REFERENCES courses(id),
    instructor_id TEXT NOT NULL REFERENCES instructors(id),
    title TEXT NOT NULL,
    amount BIGINT NOT NULL,
    discount BIGINT NOT NULL,
    net BIGINT NOT NULL,
    share_bps BIGINT NOT NULL,
    instructor_share BIGINT NOT NULL,
    commission BIGINT NOT NULL,
    platform_share BIGINT NOT NULL,
    refunded_net BIGINT NOT NULL DEFAULT 0,
    clawed_back BIGINT NOT NULL DEFAULT 0,
    commission_cancelled BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX order_items_order ON order_items(order_id);
CREATE INDEX order_items_course ON order_items(course_id);
CREATE INDEX order_items_instructor ON order_items(instructor_id);

CREATE TABLE enrollments (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    course_id TEXT NOT NULL REFERENCES courses(id),
    order_id TEXT REFERENCES orders(id),
    -- active, revoked (refunded)
    status TEXT NOT NULL,
    completed_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX enrollments_once ON enrollments(customer_id, course_id);
CREATE INDEX enrollments_course ON enrollments(course_id);

-- Signed amounts owed to an instructor: a sale's share (held until the
-- refund window closes) or a refund's claw-back (due at once). A payout
-- takes every row that is due.
CREATE TABLE earnings (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    instructor_id TEXT NOT NULL REFERENCES instructors(id),
    order_item_id TEXT NOT NULL REFERENCES order_items(id),
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    -- sale, clawback
    kind TEXT NOT NULL,
    available_at BIGINT NOT NULL,
    payout_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX earnings_due ON earnings(livemode, payout_id, available_at);
CREATE INDEX earnings_instructor ON earnings(instructor_id, created_at);

CREATE TABLE payouts (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    -- instructor, affiliate
    payee_kind TEXT NOT NULL,
    payee_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    method TEXT NOT NULL,
    -- paid (sandbox, connector confirmed), in_transit (bank transfer exported), failed
    status TEXT NOT NULL,
    reference TEXT,
    -- the run that made it: YYYY-MM
    period TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    paid_at BIGINT
);
CREATE UNIQUE INDEX payouts_once ON payouts(livemode, payee_kind, payee_id, currency, period);

CREATE TABLE affiliates (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    external_id TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    -- pending, approved, suspended, rejected
    status TEXT NOT NULL,
    code TEXT NOT NULL,
    commission_bps BIGINT NOT NULL,
    payout_method TEXT NOT NULL,
    payout_details TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX affiliates_code ON affiliates(livemode, code);
CREATE UNIQUE INDEX affiliates_external ON affiliates(livemode, external_id);

CREATE TABLE affiliate_clicks (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    affiliate_id TEXT NOT NULL REFERENCES affiliates(id),
    -- SHA-256 of the visitor's IP with a server secret: never the IP
    ip_hash TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    referer TEXT NOT NULL,
    landing_url TEXT NOT NULL,
    customer_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX affiliate_clicks_customer ON affiliate_clicks(livemode, customer_id, created_at);
CREATE INDEX affiliate_clicks_affiliate ON affiliate_clicks(affiliate_id, created_at);

-- pending → approved (after the refund window) → paid; cancelled on refund.
CREATE TABLE commissions (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    affiliate_id TEXT NOT NULL REFERENCES affiliates(id),
    order_id TEXT NOT NULL REFERENCES orders(id),
    click_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    status TEXT NOT NULL,
    approve_at BIGINT NOT NULL,
    payout_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX commissions_order ON commissions(order_id);
CREATE INDEX commissions_affiliate ON commissions(affiliate_id, status);

CREATE TABLE reviews (
    id TEXT PRIMARY KEY,
    livemode BIGINT NOT NULL,
    course_id TEXT NOT NULL REFERENCES courses(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    rating BIGINT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    -- visible, hidden (moderated: not counted)
    status TEXT NOT NULL,
    reply TEXT,
    replied_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX reviews_once ON reviews(course_id, customer_id);

CREATE TABLE wishlist_items (
    customer_id TEXT NOT NULL REFERENCES customers(id),
    course_id TEXT NOT NULL REFERENCES courses(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (customer_id, course_id)
);
