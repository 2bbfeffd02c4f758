-- Ingest keeps the references a connector's batches resolved (item and
-- location mappings, SKUs, location codes) in memory; a batch may use them
-- only while the connector's mappings are as they were read. Every change to
-- connector_mappings bumps its connector's mappings_version, whichever code
-- makes it, and a batch reads the version in its own transaction
-- (store/connectors_resolve.go). Products' SKUs and location codes never
-- change, so they need no version of their own.
ALTER TABLE connectors ADD COLUMN mappings_version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION connector_mappings_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE connectors SET mappings_version = mappings_version + 1
    WHERE id IN (SELECT DISTINCT connector_id FROM changed);
    RETURN NULL;
END $$;

-- A trigger with transition tables fires on one kind of event only.
CREATE TRIGGER connector_mappings_inserted AFTER INSERT ON connector_mappings
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION connector_mappings_changed();
CREATE TRIGGER connector_mappings_updated AFTER UPDATE ON connector_mappings
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION connector_mappings_changed();
CREATE TRIGGER connector_mappings_deleted AFTER DELETE ON connector_mappings
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION connector_mappings_changed();
