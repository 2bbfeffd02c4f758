-- Transfers (DESIGN §6): requests between locations that a manager of the
-- origin approves (or an approval rule does), shipped with tracking and
-- received in one or more receipts. Returns: units that come back against
-- an order's fulfilled lines, each with a disposition. Variances raise
-- exceptions of kind transfer_variance (exceptions.kind is free text).

CREATE TABLE transfers (
    id               bigserial PRIMARY KEY,
    from_location_id bigint NOT NULL REFERENCES locations (id),
    to_location_id   bigint NOT NULL REFERENCES locations (id),
    status           text NOT NULL CHECK (status IN ('requested', 'approved', 'rejected', 'shipped', 'received', 'cancelled')),
    reason           text NOT NULL DEFAULT '',
    needed_by        date,
    tracking         text NOT NULL DEFAULT '',
    requested_by     text NOT NULL,
    decided_by       text NOT NULL DEFAULT '',   -- who approved or rejected
    decision_note    text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    approved_at      timestamptz,
    shipped_at       timestamptz,
    received_at      timestamptz,
    CHECK (from_location_id <> to_location_id)
);
CREATE INDEX transfers_recent ON transfers (id DESC);
CREATE INDEX transfers_status ON transfers (status, id DESC);
CREATE INDEX transfers_from ON transfers (from_location_id, status, id DESC);
CREATE INDEX transfers_to ON transfers (to_location_id, status, id DESC);

-- One line per SKU. received counts every unit that arrived (damaged ones
-- included); lost is what a person wrote off after a short receipt.
CREATE TABLE transfer_lines (
    transfer_id bigint NOT NULL REFERENCES transfers (id),
    line_no     integer NOT NULL,
    product_id  bigint NOT NULL REFERENCES products (id),
    requested   integer NOT NULL CHECK (requested > 0),
    approved    integer NOT NULL DEFAULT 0 CHECK (approved >= 0 AND approved <= requested),
    shipped     integer NOT NULL DEFAULT 0 CHECK (shipped >= 0 AND shipped <= approved),
    received    integer NOT NULL DEFAULT 0 CHECK (received >= 0),
    damaged     integer NOT NULL DEFAULT 0 CHECK (damaged >= 0 AND damaged <= received),
    lost        integer NOT NULL DEFAULT 0 CHECK (lost >= 0),
    PRIMARY KEY (transfer_id, line_no),
    UNIQUE (transfer_id, product_id)
);
CREATE INDEX transfer_lines_product ON transfer_lines (product_id, transfer_id DESC);

-- The transfer's timeline.
CREATE TABLE transfer_events (
    id          bigserial PRIMARY KEY,
    transfer_id bigint NOT NULL REFERENCES transfers (id),
    at          timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL,   -- requested, approved, rejected, shipped, received, cancelled, variance, found, lost, note
    actor       text NOT NULL,
    message     text NOT NULL
);
CREATE INDEX transfer_events_transfer ON transfer_events (transfer_id, id);

-- Approval rules: a request that matches an enabled rule is approved at
-- once (if the origin's ATP covers it). None by default.
CREATE TABLE transfer_rules (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL,
    same_region     boolean NOT NULL DEFAULT true,  -- origin and destination in one region
    max_units       integer NOT NULL CHECK (max_units > 0),        -- total units below this
    max_value_cents bigint NOT NULL CHECK (max_value_cents > 0),   -- total value (price × units) below this
    enabled         boolean NOT NULL DEFAULT true,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text NOT NULL
);

-- A return of units of an order's fulfilled lines, received at a location
-- (pending when a connector's refund says they are coming but no store has
-- received them yet).
CREATE TABLE returns (
    id                bigserial PRIMARY KEY,
    order_id          bigint NOT NULL REFERENCES orders (id),
    location_id       bigint REFERENCES locations (id),
    status            text NOT NULL CHECK (status IN ('pending', 'received')),
    source            text NOT NULL,               -- stockline, api or a connector
    external_ref      text NOT NULL DEFAULT '',    -- e.g. the connector's refund id
    exchange_order_id bigint REFERENCES orders (id),
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    received_at       timestamptz,
    CHECK (status = 'pending' OR location_id IS NOT NULL)
);
CREATE INDEX returns_order ON returns (order_id, id);
CREATE INDEX returns_recent ON returns (id DESC);
CREATE UNIQUE INDEX returns_external ON returns (source, external_ref) WHERE external_ref <> '';

-- One line per order line and disposition. Units on quality hold are
-- later released: released_sellable + released_damaged <= qty.
CREATE TABLE return_lines (
    return_id         bigint NOT NULL REFERENCES returns (id),
    line_no           integer NOT NULL,
    order_line_id     bigint NOT NULL REFERENCES order_lines (id),
    product_id        bigint NOT NULL REFERENCES products (id),
    qty               integer NOT NULL CHECK (qty > 0),
    disposition       text NOT NULL CHECK (disposition IN ('pending', 'restock', 'damaged', 'quality_hold', 'return_to_vendor', 'destroy')),
    released_sellable integer NOT NULL DEFAULT 0 CHECK (released_sellable >= 0),
    released_damaged  integer NOT NULL DEFAULT 0 CHECK (released_damaged >= 0),
    PRIMARY KEY (return_id, line_no),
    CHECK (released_sellable + released_damaged <= qty)
);
CREATE INDEX return_lines_order_line ON return_lines (order_line_id);
CREATE INDEX return_lines_held ON return_lines (return_id) WHERE disposition = 'quality_hold';

-- The SKU page and transfer timelines read ledger rows by source_ref.
CREATE INDEX ledger_transfer_ref ON ledger (source_ref) WHERE source_ref LIKE 'transfer:%' OR source_ref LIKE 'return:%';
