-- An exporter's hour is judged once it is over and the accounting of its last minutes
-- had time to arrive (an interim comes every few minutes, flows every minute): until
-- then its row reads 'open' (figures so far, not flagged), unless the exporter is silent.
ALTER TABLE traffic_reconciliation DROP CONSTRAINT traffic_reconciliation_state_check;
ALTER TABLE traffic_reconciliation ADD CONSTRAINT traffic_reconciliation_state_check
    CHECK (state IN ('ok', 'mismatch', 'silent', 'open'));
