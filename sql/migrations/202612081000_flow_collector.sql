-- The collector's side of the traffic tables: what it refuses, counted where an operator
-- can see it, and day partitions made ahead and dropped after their retention by one
-- beat task (worker/flow_tasks.py), so nothing lands in a default partition.

-- Flows nfacctd was sent and did not count: per exporter, reason and one-minute bin of
-- arrival time. Today's one reason is 'unknown_exporter' (the sender's address is not
-- in the nas table): nfacctd's "reject" plugin aggregates such flows by exporter and
-- writes them here (COPY, insert-only, as flow_bins), the reason by the column's
-- default. Small (one row per exporter and minute at most), so not partitioned; the
-- partition task deletes rows older than FLOW_RETENTION_DAYS.
CREATE TABLE flow_rejects (
    peer_ip_src inet NOT NULL DEFAULT '0.0.0.0',
    reason text NOT NULL DEFAULT 'unknown_exporter' CHECK (reason IN ('unknown_exporter')),
    packets bigint NOT NULL,
    bytes bigint NOT NULL,
    stamp_inserted timestamptz NOT NULL,
    stamp_updated timestamptz
);
CREATE INDEX flow_rejects_stamp_inserted ON flow_rejects USING brin (stamp_inserted);

GRANT INSERT ON flow_rejects TO ebs_flow;

-- pmacct 1.7.7's SQL plugins write the tag2 primitive into a column named "tag2" (tag is
-- "agent_id" in the default table version): the direction column follows. The view keeps
-- its columns, so the rater reads exactly what it read.
ALTER TABLE flow_bins RENAME COLUMN agent_id2 TO tag2;
CREATE OR REPLACE VIEW flow_bin_rows AS
SELECT stamp_inserted AS bin,
       CASE tag2 WHEN 1 THEN ip_dst ELSE ip_src END AS address,
       agent_id::integer AS class_id,
       CASE tag2 WHEN 1 THEN 'in' WHEN 2 THEN 'out' END AS direction,
       peer_ip_src AS exporter,
       bytes, packets
  FROM flow_bins;
