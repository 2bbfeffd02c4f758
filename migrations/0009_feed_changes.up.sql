-- The availability feed's since= reads the ledger's rows recorded after a
-- time. recorded_at follows insertion order almost exactly, so a BRIN index
-- (a few pages, nearly free on insert) turns that into a range read.
CREATE INDEX ledger_recorded_brin ON ledger USING brin (recorded_at);
