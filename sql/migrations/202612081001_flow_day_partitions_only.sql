-- ebs_flow_day_partition('flow_raw', day) replaces the one-table function (a fresh
-- database never had it: its file is gone, hence IF EXISTS).
DROP FUNCTION IF EXISTS ebs_flow_raw_partition(date);
DELETE FROM schema_functions WHERE name = 'ebs_flow_raw_partition';
