DROP INDEX IF EXISTS ledger_recorded_brin;
