-- Metrics (issue 11): each cancellation and pick rejection as a countable
-- row with its reason code, written by the paths that make them; the rollup
-- tables a background worker rebuilds; and the indexes the measures read by.

-- One row per line and cancellation: the units a cancel took from a line,
-- with the code it was counted under. Written in the same transaction as
-- the line's cancelled units (store/orders_cancel.go, the only place lines
-- are cancelled: pages, API, connector cancels, not_collected).
CREATE TABLE line_cancellations (
    id            bigserial PRIMARY KEY,
    order_id      bigint NOT NULL REFERENCES orders (id),
    order_line_id bigint NOT NULL REFERENCES order_lines (id),
    product_id    bigint NOT NULL REFERENCES products (id),
    location_id   bigint REFERENCES locations (id), -- where the line was held; NULL when never allocated
    channel       text NOT NULL,
    reason_code   text NOT NULL CHECK (reason_code IN ('out_of_stock', 'item_not_found', 'customer_request',
                      'payment_failed', 'fraud', 'not_collected', 'other')),
    units         integer NOT NULL CHECK (units > 0),
    actor         text NOT NULL,
    cancelled_at  timestamptz NOT NULL
);
CREATE INDEX line_cancellations_line ON line_cancellations (order_line_id);
CREATE INDEX line_cancellations_order ON line_cancellations (order_id) WHERE reason_code = 'not_collected';
CREATE INDEX line_cancellations_at ON line_cancellations (cancelled_at);

-- One row per pick rejection (item not found or damaged at pick).
CREATE TABLE pick_rejections (
    id            bigserial PRIMARY KEY,
    order_id      bigint NOT NULL REFERENCES orders (id),
    order_line_id bigint NOT NULL REFERENCES order_lines (id),
    product_id    bigint NOT NULL REFERENCES products (id),
    location_id   bigint NOT NULL REFERENCES locations (id),
    channel       text NOT NULL,
    reject_reason text NOT NULL,                 -- not_found or damaged
    reason_code   text NOT NULL CHECK (reason_code IN ('out_of_stock', 'item_not_found', 'customer_request',
                      'payment_failed', 'fraud', 'not_collected', 'other')),
    units         integer NOT NULL CHECK (units > 0),
    actor         text NOT NULL,
    rejected_at   timestamptz NOT NULL
);
CREATE INDEX pick_rejections_at ON pick_rejections (rejected_at);
CREATE INDEX pick_rejections_line ON pick_rejections (order_line_id);

-- The measures window orders by their placed time, and find the count
-- corrections (a small share of the ledger) by their time.
CREATE INDEX orders_placed ON orders (placed_at);
CREATE INDEX ledger_cycle_count ON ledger (occurred_at) WHERE reason = 'cycle_count';

-- Cancellation rollup: per UTC day of the order's placed time, the line's
-- location (0: never allocated) and the order's channel.
CREATE UNLOGGED TABLE metric_cancellations_daily (
    day              date NOT NULL,
    location_id      bigint NOT NULL,
    channel          text NOT NULL,
    ordered_units    bigint NOT NULL,
    cancelled_units  bigint NOT NULL,
    out_of_stock     bigint NOT NULL,
    item_not_found   bigint NOT NULL,
    customer_request bigint NOT NULL,
    payment_failed   bigint NOT NULL,
    fraud            bigint NOT NULL,
    not_collected    bigint NOT NULL,
    other            bigint NOT NULL,
    PRIMARY KEY (day, location_id, channel)
);

-- Ledger rollup: per UTC day of occurred_at, location and product category,
-- the units sold (sale movements off on_hand) and the net on_hand change.
CREATE UNLOGGED TABLE metric_stock_daily (
    day          date NOT NULL,
    location_id  bigint NOT NULL,
    category     text NOT NULL,
    sold_units   bigint NOT NULL,
    on_hand_net  bigint NOT NULL,
    PRIMARY KEY (day, location_id, category)
);

-- Cancellation rollup by SKU: the same figures per UTC day, location,
-- channel and product, for the store page's cancellations by SKU and for a
-- category filter; read one location's days at a time.
CREATE UNLOGGED TABLE metric_cancellations_sku_daily (
    day              date NOT NULL,
    location_id      bigint NOT NULL,
    channel          text NOT NULL,
    product_id       bigint NOT NULL,
    ordered_units    bigint NOT NULL,
    cancelled_units  bigint NOT NULL,
    out_of_stock     bigint NOT NULL,
    item_not_found   bigint NOT NULL,
    customer_request bigint NOT NULL,
    payment_failed   bigint NOT NULL,
    fraud            bigint NOT NULL,
    not_collected    bigint NOT NULL,
    other            bigint NOT NULL,
    PRIMARY KEY (location_id, day, channel, product_id)
);
CREATE INDEX metric_cancellations_sku_daily_day ON metric_cancellations_sku_daily (day);

-- Orders rollup: per UTC day of placed time, pickup store (0: none) and
-- channel, the orders placed and those with an oversell exception.
CREATE UNLOGGED TABLE metric_orders_daily (
    day          date NOT NULL,
    location_id  bigint NOT NULL,
    channel      text NOT NULL,
    orders       bigint NOT NULL,
    oversold     bigint NOT NULL,
    PRIMARY KEY (day, location_id, channel)
);

-- The pickup measures stay live (exact percentiles, "now"-relative counts)
-- and read each store's pickup orders by placed time from this narrow
-- index alone (an index-only scan per store, no sort of the window).
CREATE INDEX orders_pickup_placed ON orders (pickup_location_id, placed_at)
    INCLUDE (id, pickup_location_id, channel, status, promised_at, pickup_until, ready_at) WHERE fulfilment = 'pickup';

-- When each rollup was last rebuilt: its numbers include every change
-- committed before fresh_at. The rollups and this table are UNLOGGED: they
-- are rebuilt from the raw tables every round, so they skip the WAL (the
-- rebuild writes about half as much); a crash empties all of them together,
-- and with no fresh_at every measure reads the raw tables until the worker
-- rebuilds them (at start).
CREATE UNLOGGED TABLE metric_rollups (
    name       text PRIMARY KEY,
    fresh_at   timestamptz NOT NULL,
    took_ms    integer NOT NULL,
    refreshed_by text NOT NULL
);
