ALTER TABLE positions RESET (fillfactor);
CREATE INDEX audit_log_at ON audit_log (id DESC);
ALTER TABLE reservation_lines DROP CONSTRAINT reservation_lines_position_fkey,
    ADD CONSTRAINT reservation_lines_location_id_fkey FOREIGN KEY (location_id) REFERENCES locations (id),
    ADD CONSTRAINT reservation_lines_product_id_fkey FOREIGN KEY (product_id) REFERENCES products (id);
ALTER TABLE ledger DROP CONSTRAINT ledger_position_fkey,
    ADD CONSTRAINT ledger_location_id_fkey FOREIGN KEY (location_id) REFERENCES locations (id),
    ADD CONSTRAINT ledger_product_id_fkey FOREIGN KEY (product_id) REFERENCES products (id);
