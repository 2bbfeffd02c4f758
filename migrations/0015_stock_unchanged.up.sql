-- The reservation batcher may decide a batch against positions it already
-- knows (the state its own last batch left) instead of locking and reading
-- them first, and then write the batch as one statement that commits on its
-- own. That statement checks, under the positions' row locks, that each
-- position is still exactly what the decision saw, and calls this function
-- with the result: a false aborts the whole statement, so nothing of the
-- batch is kept, and the batcher runs it again the locked way
-- (store/reservations_known.go). 40001 is PostgreSQL's serialization_failure.
CREATE FUNCTION stock_unchanged(ok boolean) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF NOT ok THEN
        RAISE EXCEPTION 'stock changed since the batch decided' USING ERRCODE = '40001';
    END IF;
    RETURN true;
END $$;
