-- Drops the month partitions (<table>_YYYYMM, UTC months, made by
-- ebs_ensure_month_partitions) of sessions_history or auth_log whose whole month lies
-- before keep_from, and returns their names. A month goes at once with its indexes,
-- where a DELETE would leave half a million dead rows to vacuum. The default partition
-- is never dropped.
CREATE OR REPLACE FUNCTION ebs_drop_month_partitions(parent regclass, keep_from timestamptz)
    RETURNS SETOF text
    LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
    DECLARE
        part record;
    BEGIN
        IF parent NOT IN ('sessions_history'::regclass, 'auth_log'::regclass) THEN
            RAISE EXCEPTION 'not a month-partitioned history table: %', parent;
        END IF;
        FOR part IN
            SELECT c.relname
              FROM pg_inherits i
              JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = parent
               AND CASE WHEN c.relname ~ ('^' || parent::text || '_[0-9]{6}$')
                        THEN (to_date(right(c.relname, 6), 'YYYYMM') + interval '1 month')
                             AT TIME ZONE 'UTC' <= keep_from
                        ELSE false END  -- the default partition, or one not ours
             ORDER BY c.relname
        LOOP
            EXECUTE format('DROP TABLE %I', part.relname);
            RETURN NEXT part.relname;
        END LOOP;
    END
    $$;

REVOKE ALL ON FUNCTION ebs_drop_month_partitions(parent regclass, keep_from timestamp with time zone) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_drop_month_partitions(parent regclass, keep_from timestamp with time zone) TO ebs_worker;
