-- Monthly partitions (UTC months) for [from_ts, to_ts); existing ones are left alone.
CREATE OR REPLACE FUNCTION ebs_ensure_month_partitions(parent regclass, from_ts timestamptz, to_ts timestamptz)
    RETURNS integer LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
DECLARE
    month_start timestamptz := date_trunc('month', from_ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    part_name text;
    created integer := 0;
BEGIN
    WHILE month_start < to_ts LOOP
        part_name := format('%s_%s', parent::text, to_char(month_start AT TIME ZONE 'UTC', 'YYYYMM'));
        IF to_regclass(part_name) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                           part_name, parent, month_start,
                           (month_start AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC');
            created := created + 1;
        END IF;
        month_start := (month_start AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC';
    END LOOP;
    RETURN created;
END $$;

REVOKE ALL ON FUNCTION ebs_ensure_month_partitions(parent regclass, from_ts timestamp with time zone, to_ts timestamp with time zone) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_ensure_month_partitions(parent regclass, from_ts timestamp with time zone, to_ts timestamp with time zone) TO ebs_worker;
