-- Incremental metric rollups (issue 11): every change to a rollup's inputs
-- names the UTC day it touches in metric_dirty, in the writer's own
-- transaction (triggers, so no write path can forget it: the pages and API,
-- connectors, seeds, bench loads). The worker's round deletes the rows its
-- snapshot sees and recomputes just those days from the raw tables in that
-- same snapshot; a writer that commits after the snapshot leaves its row
-- for the next round. Exact whatever order ids or recorded_at commit in,
-- and for late events with an old occurred_at (they name their own day).
--
-- family 'orders' feeds the cancellation and order rollups (the day of the
-- order's placed time), 'stock' the ledger rollup (the day of occurred_at),
-- 'all' (day NULL) asks for a full rebuild (a product's category changed).
-- No key and no index: writers only append, so they never wait on each
-- other; the worker reads the whole (small) table each round. UNLOGGED like
-- the rollups: a crash empties them together, and with no fresh_at the
-- worker rebuilds everything.
CREATE UNLOGGED TABLE metric_dirty (
    family text NOT NULL CHECK (family IN ('orders', 'stock', 'all')),
    day    date,
    CHECK ((family = 'all') = (day IS NULL))
);

-- The round recomputes a day of the ledger rollup from this index alone.
CREATE INDEX ledger_on_hand_day ON ledger (occurred_at) INCLUDE (location_id, product_id, delta, reason)
    WHERE bucket = 'on_hand';

-- Ledger: statement-level (bulk loads write one dirty row per day, not per row).
CREATE FUNCTION metric_dirty_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO metric_dirty (family, day)
        SELECT DISTINCT 'stock', (occurred_at AT TIME ZONE 'UTC')::date FROM metric_new WHERE bucket = 'on_hand';
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO metric_dirty (family, day)
        SELECT DISTINCT 'stock', (occurred_at AT TIME ZONE 'UTC')::date FROM metric_old WHERE bucket = 'on_hand';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER metric_dirty_ins AFTER INSERT ON ledger REFERENCING NEW TABLE AS metric_new
    FOR EACH STATEMENT EXECUTE FUNCTION metric_dirty_ledger();
CREATE TRIGGER metric_dirty_upd AFTER UPDATE ON ledger REFERENCING OLD TABLE AS metric_old NEW TABLE AS metric_new
    FOR EACH STATEMENT EXECUTE FUNCTION metric_dirty_ledger();
CREATE TRIGGER metric_dirty_del AFTER DELETE ON ledger REFERENCING OLD TABLE AS metric_old
    FOR EACH STATEMENT EXECUTE FUNCTION metric_dirty_ledger();

-- Orders: new and removed orders by statement; an update only when a
-- column the rollups group by changes (status changes do not count).
CREATE FUNCTION metric_dirty_orders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO metric_dirty (family, day)
        SELECT DISTINCT 'orders', (placed_at AT TIME ZONE 'UTC')::date FROM metric_new;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO metric_dirty (family, day)
        SELECT DISTINCT 'orders', (placed_at AT TIME ZONE 'UTC')::date FROM metric_old;
    ELSE
        INSERT INTO metric_dirty (family, day)
        SELECT DISTINCT 'orders', (d AT TIME ZONE 'UTC')::date FROM (VALUES (OLD.placed_at), (NEW.placed_at)) AS t (d);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER metric_dirty_ins AFTER INSERT ON orders REFERENCING NEW TABLE AS metric_new
    FOR EACH STATEMENT EXECUTE FUNCTION metric_dirty_orders();
CREATE TRIGGER metric_dirty_del AFTER DELETE ON orders REFERENCING OLD TABLE AS metric_old
    FOR EACH STATEMENT EXECUTE FUNCTION metric_dirty_orders();
CREATE TRIGGER metric_dirty_upd AFTER UPDATE OF placed_at, channel, pickup_location_id, number ON orders FOR EACH ROW
    WHEN (OLD.placed_at IS DISTINCT FROM NEW.placed_at OR OLD.channel IS DISTINCT FROM NEW.channel
          OR OLD.pickup_location_id IS DISTINCT FROM NEW.pickup_location_id OR OLD.number IS DISTINCT FROM NEW.number)
    EXECUTE FUNCTION metric_dirty_orders();

-- Rows that belong to an order (lines, cancellation records, oversell
-- exceptions by the order's number): the order's placed day.
CREATE FUNCTION metric_dirty_order_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'exceptions' THEN
        IF TG_OP = 'UPDATE' THEN
            INSERT INTO metric_dirty (family, day)
            SELECT DISTINCT 'orders', (o.placed_at AT TIME ZONE 'UTC')::date FROM orders o
            WHERE o.number IN (OLD.ref, NEW.ref);
        ELSE
            INSERT INTO metric_dirty (family, day)
            SELECT DISTINCT 'orders', (o.placed_at AT TIME ZONE 'UTC')::date
            FROM (SELECT DISTINCT ref FROM metric_rows WHERE kind = 'oversell' AND ref <> '') r JOIN orders o ON o.number = r.ref;
        END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO metric_dirty (family, day)
        SELECT DISTINCT 'orders', (o.placed_at AT TIME ZONE 'UTC')::date FROM orders o WHERE o.id IN (OLD.order_id, NEW.order_id);
    ELSE
        INSERT INTO metric_dirty (family, day)
        SELECT DISTINCT 'orders', (o.placed_at AT TIME ZONE 'UTC')::date
        FROM (SELECT DISTINCT order_id FROM metric_rows) r JOIN orders o ON o.id = r.order_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER metric_dirty_ins AFTER INSERT ON order_lines REFERENCING NEW TABLE AS metric_rows
    FOR EACH STATEMENT EXECUTE FUNCTION metric_dirty_order_rows();
CREATE TRIGGER metric_dirty_del AFTER DELETE ON order_lines REFERENCING OLD TABLE AS metric_rows
    FOR EACH STATEMENT EXECUTE FUNCTION metric_dirty_order_rows();
CREATE TRIGGER metric_dirty_upd AFTER UPDATE OF order_id, product_id, location_id, qty, moved, cancelled ON order_lines FOR EACH ROW
    WHEN (OLD.order_id IS DISTINCT FROM NEW.order_id OR OLD.product_id IS DISTINCT FROM NEW.product_id
          OR OLD.location_id IS DISTINCT FROM NEW.location_id OR OLD.qty IS DISTINCT FROM NEW.qty
          OR OLD.moved IS DISTINCT FROM NEW.moved OR OLD.cancelled IS DISTINCT FROM NEW.cancelled)
    EXECUTE FUNCTION metric_dirty_order_rows();
CREATE TRIGGER metric_dirty_ins AFTER INSERT ON line_cancellations REFERENCING NEW TABLE AS metric_rows
    FOR EACH STATEMENT EXECUTE FUNCTION metric_dirty_order_rows();
CREATE TRIGGER metric_dirty_del AFTER DELETE ON line_cancellations REFERENCING OLD TABLE AS metric_rows
    FOR EACH STATEMENT EXECUTE FUNCTION metric_dirty_order_rows();
CREATE TRIGGER metric_dirty_upd AFTER UPDATE ON line_cancellations FOR EACH ROW
    EXECUTE FUNCTION metric_dirty_order_rows();
CREATE TRIGGER metric_dirty_ins AFTER INSERT ON exceptions REFERENCING NEW TABLE AS metric_rows
    FOR EACH STATEMENT EXECUTE FUNCTION metric_dirty_order_rows();
CREATE TRIGGER metric_dirty_del AFTER DELETE ON exceptions REFERENCING OLD TABLE AS metric_rows
    FOR EACH STATEMENT EXECUTE FUNCTION metric_dirty_order_rows();
CREATE TRIGGER metric_dirty_upd AFTER UPDATE OF kind, ref ON exceptions FOR EACH ROW
    WHEN ((OLD.kind = 'oversell' OR NEW.kind = 'oversell') AND (OLD.kind IS DISTINCT FROM NEW.kind OR OLD.ref IS DISTINCT FROM NEW.ref))
    EXECUTE FUNCTION metric_dirty_order_rows();

-- A product's category is a key of the ledger rollup on every day it moved:
-- ask for a full rebuild (catalogue edits are rare).
CREATE FUNCTION metric_dirty_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO metric_dirty (family, day) VALUES ('all', NULL);
    RETURN NULL;
END $$;
CREATE TRIGGER metric_dirty_upd AFTER UPDATE OF category ON products FOR EACH ROW
    WHEN (OLD.category IS DISTINCT FROM NEW.category) EXECUTE FUNCTION metric_dirty_all();

-- Changes made before these triggers were not recorded: forget fresh_at so
-- the first round rebuilds everything.
DELETE FROM metric_rollups;
