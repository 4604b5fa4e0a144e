-- The "Traffic reconciliation" page lists what needs an operator first (mismatches and
-- silent exporters), newest first within each part: one index walk, however many
-- exporter hours have been kept.
CREATE INDEX traffic_reconciliation_attention_idx ON traffic_reconciliation
    ((state IN ('mismatch', 'silent')) DESC, period_start DESC, id DESC);
