-- Reconciliation (issue 9): exceptions learn what they are about (order,
-- transfer), who resolved them with which action, and kind-specific
-- figures (data: a drift's system and counted figures, its count time and
-- held units). Thresholds per location and category, platform snapshots
-- (compared, never applied) and recorded reconciliation runs.

ALTER TABLE exceptions
    ADD COLUMN order_id          bigint REFERENCES orders (id),
    ADD COLUMN transfer_id       bigint REFERENCES transfers (id),
    ADD COLUMN data              jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN resolution_action text NOT NULL DEFAULT '',  -- the domain.ExceptionAction that closed it ('' for none or system)
    ADD COLUMN resolved_by       text NOT NULL DEFAULT '',  -- actor string: user:..., token:..., system:...
    ADD COLUMN owner_role        text NOT NULL DEFAULT '';  -- the role that works this kind ('' = by kind)

UPDATE exceptions e SET order_id = o.id FROM orders o
 WHERE e.ref = o.number AND e.kind IN ('item_not_found', 'oversell', 'payment_before_stock', 'pickup_overdue', 'pickup_location_change', 'partial_shipment');
UPDATE exceptions SET transfer_id = substr(ref, 10)::bigint
 WHERE kind = 'transfer_variance' AND ref ~ '^transfer:[0-9]+$' AND EXISTS (SELECT 1 FROM transfers t WHERE t.id = substr(ref, 10)::bigint);

CREATE INDEX exceptions_order ON exceptions (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX exceptions_kind_id ON exceptions (kind, id DESC);
CREATE INDEX exceptions_status_id ON exceptions (status, id DESC);
-- Open drifts of a position, found when a late event lands.
CREATE INDEX exceptions_open_drift ON exceptions (location_id, product_id)
 WHERE kind = 'reconciliation_drift' AND status IN ('open', 'in_progress');

-- Thresholds: a count is beyond the threshold when every set bound is met
-- (|diff| >= min_units AND |diff| >= min_percent of the system figure AND
-- |diff| x price >= min_value_cents). Scope 'default' has one row; a
-- location row beats a category row, which beats the default.
CREATE TABLE recon_thresholds (
    id              bigserial PRIMARY KEY,
    scope           text NOT NULL CHECK (scope IN ('default', 'location', 'category')),
    location_id     bigint REFERENCES locations (id),
    category        text NOT NULL DEFAULT '',
    min_units       integer NOT NULL DEFAULT 0 CHECK (min_units >= 0),
    min_percent     numeric(6, 2) NOT NULL DEFAULT 0 CHECK (min_percent >= 0),
    min_value_cents bigint NOT NULL DEFAULT 0 CHECK (min_value_cents >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text NOT NULL DEFAULT 'seed',
    CHECK ((scope = 'location') = (location_id IS NOT NULL)),
    CHECK ((scope = 'category') = (category <> ''))
);
CREATE UNIQUE INDEX recon_thresholds_one ON recon_thresholds (scope, COALESCE(location_id, 0), category);
INSERT INTO recon_thresholds (scope, min_units, min_percent) VALUES ('default', 3, 5);

-- A platform's latest view of a position (Shopify inventory levels, a
-- warehouse snapshot). Never applied to positions; reconciliation runs
-- compare it with the ledger as of as_of.
CREATE TABLE platform_snapshots (
    connector_id bigint NOT NULL REFERENCES connectors (id),
    location_id  bigint NOT NULL REFERENCES locations (id),
    product_id   bigint NOT NULL REFERENCES products (id),
    quantity     integer NOT NULL,
    as_of        timestamptz NOT NULL,
    source_ref   text NOT NULL DEFAULT '',
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connector_id, location_id, product_id)
);

ALTER TABLE connectors ADD COLUMN recon_interval_seconds integer NOT NULL DEFAULT 3600
    CHECK (recon_interval_seconds BETWEEN 60 AND 604800);

-- One reconciliation of a connector's snapshot against the ledger. A run
-- is queued (by the schedule or a person), claimed by one app instance
-- (FOR UPDATE SKIP LOCKED) and run under lease_until; at most one queued
-- or running run per connector (unique partial index), and a run whose
-- lease lapsed (its instance died) is marked failed so another can start.
CREATE TABLE recon_runs (
    id             bigserial PRIMARY KEY,
    connector_id   bigint NOT NULL REFERENCES connectors (id),
    status         text NOT NULL CHECK (status IN ('queued', 'running', 'finished', 'failed')),
    trigger        text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
    started_by     text NOT NULL,
    queued_at      timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz,
    lease_until    timestamptz,
    total          integer NOT NULL DEFAULT 0,   -- locations to compare
    done           integer NOT NULL DEFAULT 0,   -- locations compared
    compared       integer NOT NULL DEFAULT 0,
    drifts_opened  integer NOT NULL DEFAULT 0,
    drifts_closed  integer NOT NULL DEFAULT 0,
    error          text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX recon_runs_one_active ON recon_runs (connector_id) WHERE status IN ('queued', 'running');
CREATE INDEX recon_runs_recent ON recon_runs (connector_id, id DESC);
