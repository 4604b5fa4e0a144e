-- The counting plugins keep the subscribers' side themselves (networks_file with
-- networks_file_filter, flow/collector_maps.py) instead of the core's aggregate_filter:
-- a flow whose subscriber-side address is outside every subscriber network reaches
-- flow_bins with that address zeroed. Those rows are nobody's traffic and were never
-- counted before: the rater's view leaves them out.
CREATE OR REPLACE VIEW flow_bin_rows AS
SELECT stamp_inserted AS bin,
       CASE tag2 WHEN 1 THEN ip_dst ELSE ip_src END AS address,
       agent_id::integer AS class_id,
       CASE tag2 WHEN 1 THEN 'in' WHEN 2 THEN 'out' END AS direction,
       peer_ip_src AS exporter,
       bytes, packets
  FROM flow_bins
 WHERE CASE tag2 WHEN 1 THEN ip_dst ELSE ip_src END NOT IN (inet '0.0.0.0', inet '::');
