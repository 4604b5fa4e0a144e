-- The partition of a day-partitioned flow table (flow_bins, flow_raw) for one UTC day,
-- named <table>_YYYYMMDD, created ahead of time (a no-op when it exists). The worker
-- owns no table, hence SECURITY DEFINER; only the flow tables are accepted.
CREATE OR REPLACE FUNCTION ebs_flow_day_partition(parent regclass, day date) RETURNS regclass
    LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
    DECLARE
        name text := format('%s_%s', parent::text, to_char(day, 'YYYYMMDD'));
        low timestamptz := (day::timestamp AT TIME ZONE 'UTC');
    BEGIN
        IF parent NOT IN ('flow_bins'::regclass, 'flow_raw'::regclass) THEN
            RAISE EXCEPTION 'not a day-partitioned flow table: %', parent;
        END IF;
        IF to_regclass(name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                name, parent, low, low + interval '1 day'
            );
        END IF;
        RETURN name::regclass;
    END
    $$;

REVOKE ALL ON FUNCTION ebs_flow_day_partition(parent regclass, day date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_flow_day_partition(parent regclass, day date) TO ebs_worker;
