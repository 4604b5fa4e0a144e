-- The partition for one UTC day, created ahead of time (a no-op when it exists).
CREATE OR REPLACE FUNCTION ebs_flow_raw_partition(day date) RETURNS regclass
    LANGUAGE plpgsql
   
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
    DECLARE
        name text := format('flow_raw_%s', to_char(day, 'YYYYMMDD'));
        low timestamptz := (day::timestamp AT TIME ZONE 'UTC');
    BEGIN
        IF to_regclass(name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF flow_raw FOR VALUES FROM (%L) TO (%L)',
                name, low, low + interval '1 day'
            );
        END IF;
        RETURN name::regclass;
    END
    $$;

REVOKE ALL ON FUNCTION ebs_flow_raw_partition(day date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_flow_raw_partition(day date) TO ebs_worker;
