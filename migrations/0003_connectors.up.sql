-- Connectors (DESIGN §7): the registry of feeds with their health, cursors
-- and leases; every inbound event, unique per (connector, source_event_id),
-- applied in the same transaction it is stored in; dead letters; the
-- mappings from a feed's ids to our SKUs and locations; count snapshots;
-- and CSV count uploads.

CREATE TABLE connectors (
    id                    bigserial PRIMARY KEY,
    name                  text NOT NULL UNIQUE,
    kind                  text NOT NULL CHECK (kind IN ('pos', 'ecommerce', 'warehouse', 'counts')),
    adapter               text NOT NULL CHECK (adapter IN ('square', 'shopify', 'csv')),
    base_url              text NOT NULL DEFAULT '',
    -- Credentials are never stored in clear: either a reference to an
    -- environment variable ('env:NAME') or an AES-GCM sealed secret.
    credential_ref        text NOT NULL DEFAULT '',
    credential_sealed     bytea,
    credential_hint       text NOT NULL DEFAULT '',
    settings              jsonb NOT NULL DEFAULT '{}',
    poll_interval_seconds integer NOT NULL DEFAULT 30 CHECK (poll_interval_seconds BETWEEN 1 AND 86400),
    stale_after_seconds   integer NOT NULL DEFAULT 900 CHECK (stale_after_seconds BETWEEN 1 AND 604800),
    enabled               boolean NOT NULL DEFAULT true,
    simulated             boolean NOT NULL DEFAULT false, -- runs only while the built-in simulators do
    -- Health, written by the pull loop.
    last_attempt_at       timestamptz,
    last_success_at       timestamptz,
    last_source_at        timestamptz, -- the newest source time seen (occurred_at)
    next_attempt_at       timestamptz,
    error_count           integer NOT NULL DEFAULT 0, -- consecutive failures
    errors_total          bigint NOT NULL DEFAULT 0,
    last_error            text NOT NULL DEFAULT '',
    last_error_at         timestamptz,
    events_total          bigint NOT NULL DEFAULT 0,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- Where each of a connector's streams got to. Advanced only after the
-- events before it have committed.
CREATE TABLE connector_cursors (
    connector_id bigint NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    stream       text NOT NULL,
    value        text NOT NULL DEFAULT '',
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connector_id, stream)
);

-- One app instance runs a connector at a time: the one holding its
-- unexpired lease.
CREATE TABLE connector_leases (
    connector_id bigint PRIMARY KEY REFERENCES connectors (id) ON DELETE CASCADE,
    owner        text NOT NULL,
    acquired_at  timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);

-- A feed's item and location ids, mapped to our products and locations.
CREATE TABLE connector_mappings (
    connector_id bigint NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('item', 'location')),
    external_id  text NOT NULL,
    product_id   bigint REFERENCES products (id),
    location_id  bigint REFERENCES locations (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connector_id, kind, external_id),
    CHECK ((kind = 'item' AND product_id IS NOT NULL AND location_id IS NULL)
        OR (kind = 'location' AND location_id IS NOT NULL AND product_id IS NULL))
);

-- Every event a feed delivered, once. status: applied (its effect is in the
-- ledger), pending (kept to apply later, e.g. an order before the orders
-- capability is there), dead (dead-lettered), dismissed (an operator chose
-- not to apply it).
CREATE TABLE inbound_events (
    id              bigserial PRIMARY KEY,
    connector_id    bigint NOT NULL REFERENCES connectors (id),
    source_event_id text NOT NULL,
    type            text NOT NULL,
    occurred_at     timestamptz,
    received_at     timestamptz NOT NULL DEFAULT now(),
    applied_at      timestamptz,
    via             text NOT NULL CHECK (via IN ('pull', 'webhook', 'upload', 'bench')),
    delivery_id     text NOT NULL DEFAULT '',
    status          text NOT NULL CHECK (status IN ('applied', 'pending', 'dead', 'dismissed')),
    pending_reason  text NOT NULL DEFAULT '',
    note            text NOT NULL DEFAULT '',
    payload         text NOT NULL,
    UNIQUE (connector_id, source_event_id)
);
-- One secondary index serves the recent-events list and the events-per-minute
-- rate; every extra index is paid on each of millions of inserts.
CREATE INDEX inbound_events_received ON inbound_events (connector_id, received_at, id);
CREATE INDEX inbound_events_pending ON inbound_events (connector_id, occurred_at, id) WHERE status = 'pending';

-- A dead letter: an event that could not be applied, with why. Retry
-- (optionally with a fixed payload) or dismiss it from the connector page.
CREATE TABLE dead_letters (
    id               bigserial PRIMARY KEY,
    connector_id     bigint NOT NULL REFERENCES connectors (id),
    inbound_event_id bigint NOT NULL REFERENCES inbound_events (id),
    error            text NOT NULL,
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'retried', 'dismissed')),
    attempts         integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    resolved_at      timestamptz,
    resolved_by      text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX dead_letters_one_open ON dead_letters (inbound_event_id) WHERE status = 'open';
CREATE INDEX dead_letters_connector ON dead_letters (connector_id, status, id DESC);

-- Webhook deliveries seen, by the platform's delivery id, so a redelivered
-- webhook is recognised before its body is even parsed.
CREATE TABLE webhook_deliveries (
    connector_id bigint NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    delivery_id  text NOT NULL,
    topic        text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connector_id, delivery_id)
);

-- Count snapshots from every source (POS physical counts, ecommerce
-- inventory levels, CSV uploads). The newest applied one per position is
-- the anchor late movements are measured against; reconciliation compares
-- snapshots with the ledger as of counted_at.
CREATE TABLE count_snapshots (
    id          bigserial PRIMARY KEY,
    location_id bigint NOT NULL REFERENCES locations (id),
    product_id  bigint NOT NULL REFERENCES products (id),
    quantity    integer NOT NULL CHECK (quantity >= 0),
    counted_at  timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    source      text NOT NULL,
    source_ref  text NOT NULL,
    applied     boolean NOT NULL -- false: a newer count already held when it arrived
);
CREATE INDEX count_snapshots_anchor ON count_snapshots (location_id, product_id, counted_at DESC) WHERE applied;

-- A CSV count file as validated: the rows that passed, the line-numbered
-- errors, and whether (and how much of) it was applied.
CREATE TABLE count_uploads (
    id           bigserial PRIMARY KEY,
    location_id  bigint NOT NULL REFERENCES locations (id),
    filename     text NOT NULL,
    uploaded_by  text NOT NULL,
    total_rows   integer NOT NULL,
    rows         jsonb NOT NULL,
    errors       jsonb NOT NULL,
    status       text NOT NULL CHECK (status IN ('validated', 'applied')),
    applied_rows integer NOT NULL DEFAULT 0,
    changed_rows integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    applied_at   timestamptz
);
CREATE INDEX count_uploads_location ON count_uploads (location_id, id DESC);
