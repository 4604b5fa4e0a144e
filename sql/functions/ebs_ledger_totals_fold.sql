-- Merge the rows of every key that has more than one into a single row. Rows appended
-- meanwhile are not seen by the DELETE and wait for the next fold; a second fold running
-- at once skips the rows the first deleted (and cannot see the first's new rows), so
-- nothing is counted twice or lost. Returns the number of rows removed by the merge.
CREATE OR REPLACE FUNCTION ebs_ledger_totals_fold() RETURNS bigint LANGUAGE sql
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
    WITH keys AS (
        SELECT bucket, kind, source, staff_user_id
          FROM ledger_totals
         GROUP BY 1, 2, 3, 4
        HAVING count(*) > 1
    ), gone AS (
        DELETE FROM ledger_totals t
         USING keys k
         WHERE (t.bucket, t.kind, t.source, t.staff_user_id)
             = (k.bucket, k.kind, k.source, k.staff_user_id)
        RETURNING t.*
    ), merged AS (
        INSERT INTO ledger_totals (bucket, kind, source, staff_user_id, entries, amount)
        SELECT bucket, kind, source, staff_user_id, sum(entries), sum(amount)
          FROM gone
         GROUP BY 1, 2, 3, 4
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM merged);
$$;

REVOKE ALL ON FUNCTION ebs_ledger_totals_fold() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_ledger_totals_fold() TO ebs_worker;
