-- Live sessions' time-of-day speed, "require package cost" around suspensions, and the
-- retention of coa_requests.

-- "Require package cost": the money that counts toward a pending block is what is
-- available now plus what the period's periodic charges of the assignment took from the
-- checked moment on (blocked_at: the period's start, the assignment's start, or the end
-- of a suspension; billing/charging/package.py), net of parts returned since. Counting
-- from the checked moment rather than from the period's start matters after a
-- suspension inside a period: the fee charged before it paid for the time before it,
-- and the share required at the resume is the time after it.
CREATE OR REPLACE FUNCTION ebs_package_covered(acc bigint, assignment bigint,
                                               period_start timestamptz,
                                               since timestamptz, required numeric)
    RETURNS boolean LANGUAGE sql STABLE AS $$
        SELECT a.balance + a.credit - coalesce((
                   SELECT sum(e.amount) FROM ledger_entries e
                    WHERE e.account_id = acc
                      AND e.kind IN ('charge_periodic', 'refund_periodic')
                      AND e.effective_at >= since
                      AND (e.details->>'assignment_id')::bigint = assignment
                      AND (e.details->>'period_start')::timestamptz >= period_start), 0)
               >= required
          FROM accounts a WHERE a.id = acc
    $$;

CREATE OR REPLACE FUNCTION ebs_package_unblock(ids bigint[] DEFAULT NULL) RETURNS integer
    LANGUAGE plpgsql AS $$
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

-- The four-argument form counted from the period's start; nothing calls it any more.
DROP FUNCTION ebs_package_covered(bigint, bigint, timestamptz, numeric);

-- ebs.prune_coa walks finished requests oldest first (worker/coa_retention.py).
CREATE INDEX coa_requests_finished_idx ON coa_requests (finished_at, id) WHERE state = 'done';
