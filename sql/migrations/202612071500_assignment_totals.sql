-- The tariff distribution report from totals instead of every assignment: how many
-- accounts are on each tariff at a moment was a DISTINCT ON over all of account_tariffs
-- (500,000 rows sorted for every view of the report, ~250 ms). assignment_totals keeps,
-- per 15-minute bucket and tariff, the assignment spans that start and end there
-- (ebs_assignment_totals_apply); assignment_totals_daily the same per UTC day. Both are
-- append-only like ledger_totals (no writer waits on another) and folded by the same
-- beat task.
CREATE TABLE assignment_totals (
    bucket timestamptz NOT NULL,
    tariff_id integer NOT NULL,
    starts integer NOT NULL,
    ends integer NOT NULL
);
CREATE INDEX assignment_totals_bucket_idx ON assignment_totals (bucket);

CREATE TABLE assignment_totals_daily (
    day timestamptz NOT NULL,
    tariff_id integer NOT NULL,
    starts integer NOT NULL,
    ends integer NOT NULL
);
CREATE INDEX assignment_totals_daily_day_idx ON assignment_totals_daily (day);

REVOKE INSERT, UPDATE, DELETE ON assignment_totals, assignment_totals_daily
    FROM ebs_web, ebs_worker;

-- Read once with writers held off; later statements are counted by the triggers.
LOCK TABLE account_tariffs IN SHARE ROW EXCLUSIVE MODE;

CREATE TRIGGER account_tariffs_totals_insert AFTER INSERT ON account_tariffs
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_assignment_totals_track();
CREATE TRIGGER account_tariffs_totals_update AFTER UPDATE ON account_tariffs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_assignment_totals_track();
CREATE TRIGGER account_tariffs_totals_delete AFTER DELETE ON account_tariffs
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_assignment_totals_track();

WITH spans AS (
    SELECT tariff_id, assigned_at,
           lead(assigned_at) OVER (PARTITION BY account_id ORDER BY assigned_at) AS ended
      FROM account_tariffs
), moves AS (
    SELECT ebs_ledger_bucket(assigned_at) AS bucket, tariff_id, 1 AS starts, 0 AS ends
      FROM spans
    UNION ALL
    SELECT ebs_ledger_bucket(ended), tariff_id, 0, 1 FROM spans WHERE ended IS NOT NULL
), fine AS (
    INSERT INTO assignment_totals (bucket, tariff_id, starts, ends)
    SELECT bucket, tariff_id, sum(starts), sum(ends) FROM moves GROUP BY 1, 2
    RETURNING *
)
INSERT INTO assignment_totals_daily (day, tariff_id, starts, ends)
SELECT date_trunc('day', bucket, 'UTC'), tariff_id, sum(starts), sum(ends)
  FROM fine GROUP BY 1, 2;
