-- Merge each key's appended rows of assignment_totals and assignment_totals_daily into
-- one, dropping keys whose sums are zero (a change undone). Safe at once with itself and
-- with writers, as ebs_ledger_totals_fold is. Returns the rows removed.
CREATE OR REPLACE FUNCTION ebs_assignment_totals_fold() RETURNS bigint LANGUAGE sql
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
    WITH fine_keys AS (
        SELECT bucket, tariff_id FROM assignment_totals GROUP BY 1, 2 HAVING count(*) > 1
            OR (sum(starts) = 0 AND sum(ends) = 0)
    ), fine_gone AS (
        DELETE FROM assignment_totals t USING fine_keys k
         WHERE (t.bucket, t.tariff_id) = (k.bucket, k.tariff_id)
        RETURNING t.*
    ), fine_merged AS (
        INSERT INTO assignment_totals (bucket, tariff_id, starts, ends)
        SELECT bucket, tariff_id, sum(starts), sum(ends) FROM fine_gone
         GROUP BY 1, 2 HAVING sum(starts) <> 0 OR sum(ends) <> 0
        RETURNING 1
    ), day_keys AS (
        SELECT day, tariff_id FROM assignment_totals_daily GROUP BY 1, 2 HAVING count(*) > 1
            OR (sum(starts) = 0 AND sum(ends) = 0)
    ), day_gone AS (
        DELETE FROM assignment_totals_daily t USING day_keys k
         WHERE (t.day, t.tariff_id) = (k.day, k.tariff_id)
        RETURNING t.*
    ), day_merged AS (
        INSERT INTO assignment_totals_daily (day, tariff_id, starts, ends)
        SELECT day, tariff_id, sum(starts), sum(ends) FROM day_gone
         GROUP BY 1, 2 HAVING sum(starts) <> 0 OR sum(ends) <> 0
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM fine_gone) - (SELECT count(*) FROM fine_merged)
         + (SELECT count(*) FROM day_gone) - (SELECT count(*) FROM day_merged);
$$;

REVOKE ALL ON FUNCTION ebs_assignment_totals_fold() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_assignment_totals_fold() TO ebs_worker;
