-- Reservations (DESIGN §3): stock held for a checkout under a channel's
-- policy, moving held -> committed -> fulfilled, or out through released or
-- expired. The positions' reserved bucket always equals the sum of the
-- active (held or committed) lines on it; the consistency check verifies it.
CREATE TABLE reservations (
    id             bigserial PRIMARY KEY,
    channel        text NOT NULL CHECK (channel IN ('bopis', 'ship_from_store', 'marketplace', 'local_delivery', 'ecommerce_ship')),
    status         text NOT NULL CHECK (status IN ('held', 'committed', 'fulfilled', 'released', 'expired')),
    checkout_ref   text NOT NULL DEFAULT '',
    order_ref      text NOT NULL DEFAULT '',
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    created_by     text NOT NULL,
    committed_at   timestamptz,
    closed_at      timestamptz,
    release_reason text NOT NULL DEFAULT ''
);
-- The sweeper's queue: holds in expiry order.
CREATE INDEX reservations_due ON reservations (expires_at) WHERE status = 'held';
CREATE INDEX reservations_active ON reservations (id) WHERE status IN ('held', 'committed');
CREATE INDEX reservations_order_ref ON reservations (order_ref) WHERE order_ref <> '';

-- One row per location a reservation holds stock at; a split line has one
-- row per location.
CREATE TABLE reservation_lines (
    reservation_id bigint NOT NULL REFERENCES reservations (id),
    line_no        integer NOT NULL,
    location_id    bigint NOT NULL REFERENCES locations (id),
    product_id     bigint NOT NULL REFERENCES products (id),
    qty            integer NOT NULL CHECK (qty > 0),
    PRIMARY KEY (reservation_id, line_no)
);
CREATE INDEX reservation_lines_position ON reservation_lines (product_id, location_id);
CREATE INDEX reservation_lines_location ON reservation_lines (location_id, reservation_id);

-- Idempotency keys for creating API calls. A row is written in the same
-- transaction as the call's effect, so a committed row always carries the
-- final answer; a duplicate arriving meanwhile waits on the key's unique
-- index. Rows are kept at least 24 h; the sweeper deletes them after 48 h.
CREATE TABLE idempotency_keys (
    scope           text NOT NULL,
    key             text NOT NULL,
    request_hash    bytea NOT NULL,
    response_status integer NOT NULL,
    response_body   bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
