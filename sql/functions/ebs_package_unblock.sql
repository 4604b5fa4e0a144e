-- Unblock every account (of ids; NULL = all) whose pending package cost is now covered.
-- Set-based; the ledger calls it after each posting that brings money, the tick each run.
CREATE OR REPLACE FUNCTION ebs_package_unblock(ids bigint[] DEFAULT NULL) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
DECLARE
    unblocked integer;
    saved_actor text := coalesce(current_setting('ebs.actor', true), '');
    saved_staff text := coalesce(current_setting('ebs.staff_user_id', true), '');
    saved_reason text := coalesce(current_setting('ebs.reason', true), '');
BEGIN
    PERFORM set_config('ebs.actor', 'system', true),
            set_config('ebs.staff_user_id', '', true),
            set_config('ebs.reason', 'package cost covered', true);
    WITH covered AS (
        DELETE FROM package_blocks b
         WHERE (ids IS NULL OR b.account_id = ANY (ids))
           AND ebs_package_covered(b.account_id, b.assignment_id, b.period_start,
                                   b.blocked_at, b.required)
        RETURNING b.account_id
    )
    UPDATE accounts a SET blocked_by_balance = false
      FROM covered c
     WHERE a.id = c.account_id AND a.blocked_by_balance;
    GET DIAGNOSTICS unblocked = ROW_COUNT;
    PERFORM set_config('ebs.actor', saved_actor, true),
            set_config('ebs.staff_user_id', saved_staff, true),
            set_config('ebs.reason', saved_reason, true);
    RETURN unblocked;
END $$;

REVOKE ALL ON FUNCTION ebs_package_unblock(ids bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_package_unblock(ids bigint[]) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
