DROP TABLE idempotency_keys;
DROP TABLE reservation_lines;
DROP TABLE reservations;
