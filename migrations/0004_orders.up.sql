-- Orders (DESIGN §4): a header, lines whose quantities are split into
-- states, fulfilments per location and type (pickups and shipments), one
-- timeline of events per order, and the customer notifications the
-- communication rules queue through the outbox.

CREATE SEQUENCE order_number_seq START 100001;

CREATE TABLE orders (
    id                 bigserial PRIMARY KEY,
    number             text NOT NULL UNIQUE,        -- what people say: SL-100001
    channel            text NOT NULL CHECK (channel IN ('bopis', 'ship_from_store', 'marketplace', 'local_delivery', 'ecommerce_ship')),
    fulfilment         text NOT NULL CHECK (fulfilment IN ('pickup', 'ship')),
    source             text NOT NULL,               -- 'api' or the connector that brought it
    external_ref       text NOT NULL DEFAULT '',    -- the source's id (Shopify: the bare decimal order id)
    status             text NOT NULL CHECK (status IN ('placed', 'allocated', 'in_fulfilment', 'ready_for_pickup',
                           'partially_fulfilled', 'completed', 'cancelled', 'on_hold')),
    hold_reason        text NOT NULL DEFAULT '',    -- non-empty: on hold, awaiting a person
    customer_name      text NOT NULL DEFAULT '',
    customer_email     text NOT NULL DEFAULT '',    -- stored lower-case
    customer_phone     text NOT NULL DEFAULT '',    -- stored as + and digits
    payment_status     text NOT NULL CHECK (payment_status IN ('pending', 'authorized', 'captured', 'refunded')),
    pickup_location_id bigint REFERENCES locations (id),
    promised_at        timestamptz,                 -- pickup: when it is promised ready
    pickup_until       timestamptz,                 -- pickup: end of the pickup window
    placed_at          timestamptz NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    ready_at           timestamptz,
    closed_at          timestamptz,                 -- completed or cancelled
    CHECK ((fulfilment = 'pickup') = (pickup_location_id IS NOT NULL))
);
-- Search: number (unique above), email, phone, external ref; SKU goes
-- through order_lines_product.
CREATE INDEX orders_email ON orders (customer_email, id DESC) WHERE customer_email <> '';
CREATE INDEX orders_phone ON orders (customer_phone, id DESC) WHERE customer_phone <> '';
CREATE UNIQUE INDEX orders_external ON orders (source, external_ref) WHERE external_ref <> '';
CREATE INDEX orders_external_ref ON orders (external_ref) WHERE external_ref <> '';
-- The pickup queue: open pickup orders per store in promise order. Closed
-- orders (almost all of them, over time) are not in the index.
CREATE INDEX orders_pickup_queue ON orders (pickup_location_id, promised_at, id)
    WHERE fulfilment = 'pickup' AND status NOT IN ('completed', 'cancelled');
-- Support's "recent orders with problems".
CREATE INDEX orders_problems ON orders (id DESC) WHERE status = 'on_hold';
CREATE INDEX orders_recent ON orders (id DESC);

-- One line per SKU and location. Its quantity states always add up to qty.
-- A line whose units were reallocated to another store keeps them as
-- "moved", and the new line points back at it with moved_from.
CREATE TABLE order_lines (
    id                    bigserial PRIMARY KEY,
    order_id              bigint NOT NULL REFERENCES orders (id),
    line_no               integer NOT NULL,
    product_id            bigint NOT NULL REFERENCES products (id),
    location_id           bigint REFERENCES locations (id), -- where its units are held; NULL until allocated
    reservation_id        bigint REFERENCES reservations (id),
    reservation_line_no   integer,
    qty                   integer NOT NULL CHECK (qty > 0),
    pending               integer NOT NULL DEFAULT 0 CHECK (pending >= 0),
    reserved              integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    picked                integer NOT NULL DEFAULT 0 CHECK (picked >= 0),
    shipped               integer NOT NULL DEFAULT 0 CHECK (shipped >= 0),
    picked_up             integer NOT NULL DEFAULT 0 CHECK (picked_up >= 0),
    cancelled             integer NOT NULL DEFAULT 0 CHECK (cancelled >= 0),
    returned              integer NOT NULL DEFAULT 0 CHECK (returned >= 0),
    moved                 integer NOT NULL DEFAULT 0 CHECK (moved >= 0),
    moved_from            bigint REFERENCES order_lines (id),
    rejected_location_ids bigint[] NOT NULL DEFAULT '{}', -- stores that could not pick it: never sent back there
    reject_reason         text NOT NULL DEFAULT '',
    UNIQUE (order_id, line_no),
    CHECK (pending + reserved + picked + shipped + picked_up + cancelled + returned + moved = qty),
    CHECK (reserved + picked = 0 OR (location_id IS NOT NULL AND reservation_id IS NOT NULL))
);
CREATE INDEX order_lines_product ON order_lines (product_id, order_id DESC);
CREATE INDEX order_lines_reservation ON order_lines (reservation_id) WHERE reservation_id IS NOT NULL;
-- Ship work per location: lines with units still to ship.
CREATE INDEX order_lines_open_at ON order_lines (location_id, order_id) WHERE reserved + picked > 0;

-- A fulfilment is units leaving a location for the customer: a shipment
-- (with its tracking number) or a pickup at the store.
CREATE TABLE fulfilments (
    id          bigserial PRIMARY KEY,
    order_id    bigint NOT NULL REFERENCES orders (id),
    location_id bigint NOT NULL REFERENCES locations (id),
    kind        text NOT NULL CHECK (kind IN ('shipment', 'pickup')),
    carrier     text NOT NULL DEFAULT '',
    tracking    text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL
);
CREATE INDEX fulfilments_order ON fulfilments (order_id, id);

CREATE TABLE fulfilment_lines (
    fulfilment_id bigint NOT NULL REFERENCES fulfilments (id),
    order_line_id bigint NOT NULL REFERENCES order_lines (id),
    qty           integer NOT NULL CHECK (qty > 0),
    PRIMARY KEY (fulfilment_id, order_line_id)
);

-- The order's own story: status transitions, human actions, notes,
-- exceptions raised, notifications queued and delivered. The timeline page
-- merges it with reservation, ledger and connector records.
CREATE TABLE order_events (
    id       bigserial PRIMARY KEY,
    order_id bigint NOT NULL REFERENCES orders (id),
    at       timestamptz NOT NULL DEFAULT now(),
    kind     text NOT NULL,          -- created, status, allocated, picked, rejected, reallocated, shipped, picked_up, cancelled, pickup_changed, note, exception, notification
    actor    text NOT NULL,          -- user:..., token:..., connector:..., system:...
    source   text NOT NULL,          -- stockline, api, or a connector name
    message  text NOT NULL,
    link     text NOT NULL DEFAULT '' -- the record it is about, as a path
);
CREATE INDEX order_events_order ON order_events (order_id, id);

-- Customer messages by transition, editable by support and admins.
CREATE TABLE notification_templates (
    kind       text PRIMARY KEY,
    subject    text NOT NULL,
    body       text NOT NULL,
    enabled    boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT 'seed'
);
INSERT INTO notification_templates (kind, subject, body) VALUES
 ('ready_for_pickup', 'Order {order} is ready for pickup', E'Hi {customer},\n\nyour order {order} is ready at {store}. Bring this email or your order number.\n\nItems: {items}'),
 ('delayed', 'Order {order} is delayed', E'Hi {customer},\n\nwe are sorry: part of your order {order} is delayed ({reason}). We are sourcing it from another store and will write again when it is ready.\n\nItems: {items}'),
 ('partially_shipped', 'Part of order {order} has shipped', E'Hi {customer},\n\npart of your order {order} left {store} (tracking {tracking}). The rest follows.\n\nItems shipped: {items}'),
 ('shipped', 'Order {order} has shipped', E'Hi {customer},\n\nyour order {order} left {store} (tracking {tracking}).\n\nItems: {items}'),
 ('cancelled', 'Items cancelled from order {order}', E'Hi {customer},\n\nwe cancelled these items of your order {order}: {items}. Reason: {reason}.'),
 ('refund_issued', 'Refund for order {order}', E'Hi {customer},\n\nwe issued a refund for the cancelled items of order {order}: {items}.'),
 ('pickup_changed', 'Order {order} now waits at {store}', E'Hi {customer},\n\nyour order {order} will now be ready for pickup at {store}.');

-- Every customer message: queued in the same transaction as the change that
-- caused it (with an outbox row), then delivered by the sender.
CREATE TABLE notifications (
    id         bigserial PRIMARY KEY,
    order_id   bigint NOT NULL REFERENCES orders (id),
    kind       text NOT NULL,
    channel    text NOT NULL DEFAULT 'email',
    recipient  text NOT NULL,
    subject    text NOT NULL,
    body       text NOT NULL,
    status     text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed', 'skipped')),
    attempts   integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    sent_via   text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX notifications_order ON notifications (order_id, id);
CREATE INDEX notifications_queued ON notifications (id) WHERE status = 'queued';
CREATE INDEX notifications_recent ON notifications (id DESC);

-- The timeline reads an order's ledger movements by their source_ref: the
-- order number, or one of its reservations.
CREATE INDEX ledger_source_ref ON ledger (source_ref) WHERE source_ref LIKE 'SL-%' OR source_ref LIKE 'reservation:%';
-- Exceptions about an order, found by its number.
CREATE INDEX exceptions_ref ON exceptions (ref) WHERE ref <> '';
