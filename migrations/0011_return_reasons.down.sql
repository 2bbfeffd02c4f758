ALTER TABLE return_lines DROP COLUMN reason;
