-- A SQL-standard body (RETURN / BEGIN ATOMIC) binds its names when it is created, so no
-- search_path applies to it; without a SET clause the planner can inline it.
CREATE OR REPLACE FUNCTION ebs_fact_node(starts_at timestamptz, length interval, repeat text)
    RETURNS text LANGUAGE sql IMMUTABLE
    RETURN floor(extract(epoch FROM starts_at))::bigint || ','
        || floor(extract(epoch FROM length))::bigint || ',' || repeat;

REVOKE ALL ON FUNCTION ebs_fact_node(starts_at timestamp with time zone, length interval, repeat text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_fact_node(starts_at timestamp with time zone, length interval, repeat text) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
