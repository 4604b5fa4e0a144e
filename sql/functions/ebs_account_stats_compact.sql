-- Fold every delta row into one. Rows appended meanwhile by other transactions are not
-- seen by the DELETE and stay for the next fold; two folds at once each fold what they
-- deleted, so nothing is counted twice.
CREATE OR REPLACE FUNCTION ebs_account_stats_compact() RETURNS void LANGUAGE sql
    SET search_path = public, pg_temp
    AS $$
    WITH gone AS (DELETE FROM account_stats_deltas RETURNING *)
    INSERT INTO account_stats_deltas (total, active, blocked, suspended, debtors, debt)
    SELECT sum(total), sum(active), sum(blocked), sum(suspended), sum(debtors), sum(debt)
      FROM gone HAVING count(*) > 0;
$$;

REVOKE ALL ON FUNCTION ebs_account_stats_compact() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_account_stats_compact() TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
