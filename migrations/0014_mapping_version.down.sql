DROP TRIGGER connector_mappings_deleted ON connector_mappings;
DROP TRIGGER connector_mappings_updated ON connector_mappings;
DROP TRIGGER connector_mappings_inserted ON connector_mappings;
DROP FUNCTION connector_mappings_changed();
ALTER TABLE connectors DROP COLUMN mappings_version;
