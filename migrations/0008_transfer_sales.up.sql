-- Suggested transfers and the approval queue read each location's sales of
-- the last weeks from the ledger (on_hand movements of reason sale or
-- fulfilled). This partial index keeps that read to the window, however
-- long the ledger grows, and answers it from the index alone.
CREATE INDEX ledger_sales ON ledger (occurred_at) INCLUDE (location_id, product_id, delta)
    WHERE bucket = 'on_hand' AND reason IN ('sale', 'fulfilled');
