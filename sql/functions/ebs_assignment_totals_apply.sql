-- The change a statement on account_tariffs made to assignment_totals(_daily): the spans
-- of the touched accounts after it (the table now) minus their spans before it (the
-- table now without the statement's new rows, with its old rows back). A span runs from
-- an assignment's assigned_at to the account's next one's; it counts a start in the
-- bucket where it begins and an end in the bucket where the next one begins, so the
-- assignments in force at a bucket boundary are the starts before it minus the ends
-- before it (billing.assignments' rule, summed). Only keys whose sums changed are
-- appended; ebs_assignment_totals_fold merges them later, like ledger_totals.
CREATE OR REPLACE FUNCTION ebs_assignment_totals_apply(
    touched bigint[], replaced bigint[], old_rows account_tariffs[]
) RETURNS void LANGUAGE sql
    SET search_path = public, pg_temp
    AS $$
    WITH now_rows AS (
        SELECT t.id, t.account_id, t.tariff_id, t.assigned_at
          FROM account_tariffs t
         WHERE t.account_id = ANY (touched)
    ), then_rows AS (
        SELECT n.* FROM now_rows n
         WHERE NOT EXISTS (SELECT 1 FROM unnest(replaced) r(id) WHERE r.id = n.id)
        UNION ALL
        SELECT o.id, o.account_id, o.tariff_id, o.assigned_at FROM unnest(old_rows) o
    ), spans AS (
        SELECT 1 AS sign, tariff_id, assigned_at,
               lead(assigned_at) OVER (PARTITION BY account_id ORDER BY assigned_at) AS ended
          FROM now_rows
        UNION ALL
        SELECT -1, tariff_id, assigned_at,
               lead(assigned_at) OVER (PARTITION BY account_id ORDER BY assigned_at)
          FROM then_rows
    ), moves AS (
        SELECT ebs_ledger_bucket(assigned_at) AS bucket, tariff_id, sign AS starts, 0 AS ends
          FROM spans
        UNION ALL
        SELECT ebs_ledger_bucket(ended), tariff_id, 0, sign
          FROM spans WHERE ended IS NOT NULL
    ), changed AS (
        SELECT bucket, tariff_id, sum(starts)::integer AS starts, sum(ends)::integer AS ends
          FROM moves
         GROUP BY 1, 2
        HAVING sum(starts) <> 0 OR sum(ends) <> 0
    ), fine AS (
        INSERT INTO assignment_totals (bucket, tariff_id, starts, ends)
        SELECT bucket, tariff_id, starts, ends FROM changed
    )
    INSERT INTO assignment_totals_daily (day, tariff_id, starts, ends)
    SELECT date_trunc('day', bucket, 'UTC'), tariff_id, sum(starts), sum(ends)
      FROM changed
     GROUP BY 1, 2;
$$;

REVOKE ALL ON FUNCTION ebs_assignment_totals_apply(bigint[], bigint[], account_tariffs[])
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_assignment_totals_apply(bigint[], bigint[], account_tariffs[])
    TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
