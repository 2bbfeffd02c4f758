DROP INDEX IF EXISTS ledger_transfer_ref;
DROP TABLE IF EXISTS return_lines;
DROP TABLE IF EXISTS returns;
DROP TABLE IF EXISTS transfer_rules;
DROP TABLE IF EXISTS transfer_events;
DROP TABLE IF EXISTS transfer_lines;
DROP TABLE IF EXISTS transfers;
