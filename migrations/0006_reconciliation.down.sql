DROP TABLE IF EXISTS recon_runs;
ALTER TABLE connectors DROP COLUMN IF EXISTS recon_interval_seconds;
DROP TABLE IF EXISTS platform_snapshots;
DROP TABLE IF EXISTS recon_thresholds;
DROP INDEX IF EXISTS exceptions_open_drift;
DROP INDEX IF EXISTS exceptions_status_id;
DROP INDEX IF EXISTS exceptions_kind_id;
DROP INDEX IF EXISTS exceptions_order;
ALTER TABLE exceptions
    DROP COLUMN IF EXISTS owner_role,
    DROP COLUMN IF EXISTS resolved_by,
    DROP COLUMN IF EXISTS resolution_action,
    DROP COLUMN IF EXISTS data,
    DROP COLUMN IF EXISTS transfer_id,
    DROP COLUMN IF EXISTS order_id;
