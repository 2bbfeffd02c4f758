-- Foundation: locations, products, positions and their ledger, channel
-- policies, people, sessions, API tokens, audit, outbox and exceptions.

CREATE TABLE locations (
    id              bigserial PRIMARY KEY,
    code            text NOT NULL UNIQUE,
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('store', 'warehouse', 'dc')),
    region          text NOT NULL,
    timezone        text NOT NULL DEFAULT 'UTC',
    pickup          boolean NOT NULL DEFAULT false,
    ship_from_store boolean NOT NULL DEFAULT false
);

CREATE TABLE products (
    id          bigserial PRIMARY KEY,
    sku         text NOT NULL UNIQUE,
    name        text NOT NULL,
    barcode     text NOT NULL UNIQUE,
    category    text NOT NULL,
    price_cents bigint NOT NULL CHECK (price_cents >= 0)
);
CREATE INDEX products_lower_name ON products (lower(name) text_pattern_ops);
CREATE INDEX products_category ON products (category, sku);

-- One row per (location, sku). on_hand may go negative when the POS sells
-- what the ledger did not expect; the other buckets may not.
CREATE TABLE positions (
    location_id   bigint NOT NULL REFERENCES locations (id),
    product_id    bigint NOT NULL REFERENCES products (id),
    on_hand       integer NOT NULL DEFAULT 0,
    reserved      integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    damaged       integer NOT NULL DEFAULT 0 CHECK (damaged >= 0),
    quality_hold  integer NOT NULL DEFAULT 0 CHECK (quality_hold >= 0),
    transfer_out  integer NOT NULL DEFAULT 0 CHECK (transfer_out >= 0),
    in_transit_in integer NOT NULL DEFAULT 0 CHECK (in_transit_in >= 0),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (location_id, product_id)
);
CREATE INDEX positions_product ON positions (product_id);

-- Append-only: every change to a position bucket has a row here, written in
-- the same transaction, so the bucket equals the sum of its deltas.
CREATE TABLE ledger (
    id          bigserial PRIMARY KEY,
    location_id bigint NOT NULL REFERENCES locations (id),
    product_id  bigint NOT NULL REFERENCES products (id),
    bucket      text NOT NULL CHECK (bucket IN ('on_hand', 'reserved', 'damaged', 'quality_hold', 'transfer_out', 'in_transit_in')),
    delta       integer NOT NULL CHECK (delta <> 0),
    reason      text NOT NULL,
    source      text NOT NULL,
    source_ref  text NOT NULL DEFAULT '',
    actor       text NOT NULL,
    note        text NOT NULL DEFAULT '',
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_position ON ledger (product_id, location_id, id DESC);

CREATE TABLE channel_policies (
    channel                 text PRIMARY KEY CHECK (channel IN ('bopis', 'ship_from_store', 'marketplace', 'local_delivery', 'ecommerce_ship')),
    eligible_kinds          text[] NOT NULL,
    require_pickup          boolean NOT NULL DEFAULT false,
    require_ship_from_store boolean NOT NULL DEFAULT false,
    reserve_at              text NOT NULL CHECK (reserve_at IN ('checkout_start', 'order_placed')),
    hold_ttl_seconds        integer NOT NULL CHECK (hold_ttl_seconds > 0),
    safety_stock            integer NOT NULL DEFAULT 0 CHECK (safety_stock >= 0),
    allow_split             boolean NOT NULL DEFAULT false,
    max_split               integer NOT NULL DEFAULT 1 CHECK (max_split >= 1),
    pickup_window_seconds   integer NOT NULL DEFAULT 0 CHECK (pickup_window_seconds >= 0),
    promise_incoming        boolean NOT NULL DEFAULT false,
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    email         text NOT NULL,
    name          text NOT NULL DEFAULT '',
    role          text NOT NULL CHECK (role IN ('associate', 'support', 'manager', 'inventory_lead', 'admin')),
    password_hash text NOT NULL,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE user_locations (
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    location_id bigint NOT NULL REFERENCES locations (id),
    PRIMARY KEY (user_id, location_id)
);

-- The server-side record behind each session cookie. Deleting the row ends
-- the session at once.
CREATE TABLE sessions (
    id_hash      bytea PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    ip           text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE login_attempts (
    id    bigserial PRIMARY KEY,
    email text NOT NULL,
    ip    text NOT NULL,
    ok    boolean NOT NULL,
    at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_email ON login_attempts (lower(email), at);
CREATE INDEX login_attempts_ip ON login_attempts (ip, at);

CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    prefix       text NOT NULL,
    scopes       text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,
    action     text NOT NULL,
    entity     text NOT NULL,
    entity_id  text NOT NULL,
    before     jsonb,
    after      jsonb,
    request_id text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id, id DESC);
CREATE INDEX audit_log_at ON audit_log (id DESC);

-- Domain events, written in the same transaction as the change. Anything
-- downstream reads from here, never from the request path.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    topic        text NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Work for a person (DESIGN §5).
CREATE TABLE exceptions (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL,
    severity        text NOT NULL DEFAULT 'medium' CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'resolved', 'dismissed')),
    location_id     bigint REFERENCES locations (id),
    product_id      bigint REFERENCES products (id),
    ref             text NOT NULL DEFAULT '',
    title           text NOT NULL,
    detail          text NOT NULL DEFAULT '',
    assignee_id     bigint REFERENCES users (id),
    due_at          timestamptz,
    resolution_code text NOT NULL DEFAULT '',
    resolution_note text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz
);
CREATE INDEX exceptions_open ON exceptions (status, kind, created_at);
CREATE INDEX exceptions_position ON exceptions (product_id, location_id);
