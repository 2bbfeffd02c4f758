-- Placeholder: version 0005 is allocated to another branch; this file goes
-- when that migration lands (0006_transfers must follow a 0005).
SELECT 1;
