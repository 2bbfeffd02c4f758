DROP TABLE metric_rollups;
DROP TABLE metric_stock_daily;
DROP TABLE metric_cancellations_daily;
DROP INDEX ledger_cycle_count;
DROP INDEX orders_placed;
DROP TABLE pick_rejections;
DROP TABLE line_cancellations;
