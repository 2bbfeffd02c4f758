-- Exception queues (issue 9): a due time for every exception from a table
-- of SLAs by kind and severity (edited on /exceptions/slas, every change
-- audited), each exception's own timeline, alerts for new critical
-- exceptions, and the indexes the queue page needs at 1M exceptions.

CREATE TABLE exception_slas (
    kind        text NOT NULL,
    severity    text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    due_minutes integer NOT NULL CHECK (due_minutes BETWEEN 1 AND 43200),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL DEFAULT 'migration',
    PRIMARY KEY (kind, severity)
);

-- Defaults: the medium due time per kind; high is half of it, critical a
-- quarter, low twice.
INSERT INTO exception_slas (kind, severity, due_minutes)
SELECT k.kind, s.severity, greatest(5, round(k.medium * s.factor))::int
FROM (VALUES ('item_not_found', 60), ('oversell', 120), ('payment_before_stock', 120), ('pickup_overdue', 120),
             ('pickup_location_change', 240), ('partial_shipment', 480), ('negative_stock', 240),
             ('reconciliation_drift', 1440), ('transfer_variance', 1440), ('feed_stale', 60), ('dead_letter', 240),
             ('check_failed', 120)) AS k (kind, medium)
CROSS JOIN (VALUES ('critical', 0.25), ('high', 0.5), ('medium', 1.0), ('low', 2.0)) AS s (severity, factor);

-- Every exception has a due time: the source may name one, otherwise the
-- SLA of its kind and severity (a day for a kind without a row).
CREATE FUNCTION exceptions_due_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.due_at IS NULL THEN
        NEW.due_at := NEW.created_at + COALESCE((SELECT due_minutes FROM exception_slas
            WHERE kind = NEW.kind AND severity = NEW.severity), 1440) * interval '1 minute';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER exceptions_due_at BEFORE INSERT ON exceptions FOR EACH ROW EXECUTE FUNCTION exceptions_due_at();
UPDATE exceptions e SET due_at = e.created_at + COALESCE((SELECT due_minutes FROM exception_slas s
    WHERE s.kind = e.kind AND s.severity = e.severity), 1440) * interval '1 minute' WHERE due_at IS NULL;
ALTER TABLE exceptions ALTER COLUMN due_at SET NOT NULL;

-- The queue: open work sorted by due time, overall and per kind. Each
-- index carries the columns the filters and the counts read, so a filtered
-- page, its total and the counts per filter are index-only scans of the
-- open work (a few percent of the table), in due-time order, never of the
-- heap. There is deliberately no index led by location: with one, the
-- planner fetched and sorted every open row of a manager's stores instead
-- of reading the due-time order and stopping at the page's 50th row.
CREATE INDEX exceptions_work ON exceptions (due_at, id) INCLUDE (kind, severity, location_id, assignee_id, created_at)
    WHERE status IN ('open', 'in_progress');
CREATE INDEX exceptions_work_kind ON exceptions (kind, due_at, id) INCLUDE (severity, location_id, assignee_id, created_at)
    WHERE status IN ('open', 'in_progress');
CREATE INDEX exceptions_status_due ON exceptions (status, due_at, id);
-- A pickup is flagged overdue once per order, whatever became of the first one.
CREATE UNIQUE INDEX exceptions_pickup_overdue_once ON exceptions (ref) WHERE kind = 'pickup_overdue';

-- Each exception's own timeline: opened, assigned, actions, resolved.
CREATE TABLE exception_events (
    id           bigserial PRIMARY KEY,
    exception_id bigint NOT NULL REFERENCES exceptions (id),
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL,
    kind         text NOT NULL, -- opened, assigned, action, resolved, dismissed, reopened
    message      text NOT NULL
);
CREATE INDEX exception_events_exception ON exception_events (exception_id, id);

-- Alerts for new critical exceptions, queued by the outbox relay and sent
-- by the alert worker; suppressed ones are kept to show the rate limit.
CREATE TABLE exception_alerts (
    id           bigserial PRIMARY KEY,
    exception_id bigint NOT NULL REFERENCES exceptions (id) UNIQUE,
    kind         text NOT NULL,
    location_id  bigint REFERENCES locations (id),
    status       text NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'suppressed')),
    why          text NOT NULL DEFAULT '',
    attempts     integer NOT NULL DEFAULT 0,
    sent_via     text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz
);
CREATE INDEX exception_alerts_window ON exception_alerts (created_at) WHERE status <> 'suppressed';
CREATE INDEX exception_alerts_queued ON exception_alerts (id) WHERE status = 'queued';
