-- Drops the day partitions (<table>_YYYYMMDD) of a flow table whose whole day lies
-- before keep_from, and returns their names. A dropped day goes at once, with its
-- indexes, where a DELETE would leave dead rows to vacuum. The default partition is
-- never dropped.
CREATE OR REPLACE FUNCTION ebs_flow_drop_days(parent regclass, keep_from date)
    RETURNS SETOF text
    LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
    DECLARE
        part record;
    BEGIN
        IF parent NOT IN ('flow_bins'::regclass, 'flow_raw'::regclass) THEN
            RAISE EXCEPTION 'not a day-partitioned flow table: %', parent;
        END IF;
        FOR part IN
            SELECT c.relname
              FROM pg_inherits i
              JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = parent
               AND CASE WHEN c.relname ~ ('^' || parent::text || '_[0-9]{8}$')
                        THEN to_date(right(c.relname, 8), 'YYYYMMDD') < keep_from
                        ELSE false END  -- the default partition, or one not ours
             ORDER BY c.relname
        LOOP
            EXECUTE format('DROP TABLE %I', part.relname);
            RETURN NEXT part.relname;
        END LOOP;
    END
    $$;

REVOKE ALL ON FUNCTION ebs_flow_drop_days(parent regclass, keep_from date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_flow_drop_days(parent regclass, keep_from date) TO ebs_worker;
