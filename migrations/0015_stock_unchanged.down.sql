DROP FUNCTION stock_unchanged(boolean);
