DROP INDEX IF EXISTS ledger_sales;
