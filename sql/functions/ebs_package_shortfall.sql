-- "Require package cost": what a pending block still lacks (0.00 or below: covered). The
-- money that counts is what is available now plus what the period's periodic charges of
-- the assignment took from the checked moment on (blocked_at: the period's start, the
-- assignment's start, or the end of a suspension; billing/charging/package.py), net of
-- parts returned since. Counting from the checked moment rather than from the period's
-- start matters after a suspension inside a period: the fee charged before it paid for
-- the time before it, and the share required at the resume is the time after it.
-- ebs_package_covered lifts a block by it; the cabinet tells the subscriber the sum to
-- pay by it (billing/access_state.py).
CREATE OR REPLACE FUNCTION ebs_package_shortfall(acc bigint, assignment bigint,
                                                 period_start timestamptz,
                                                 since timestamptz, required numeric)
    RETURNS numeric LANGUAGE sql STABLE
    SET search_path = public, pg_temp
    AS $$
        SELECT required - (a.balance + a.credit - coalesce((
                   SELECT sum(e.amount) FROM ledger_entries e
                    WHERE e.account_id = acc
                      AND e.kind IN ('charge_periodic', 'refund_periodic')
                      AND e.effective_at >= since
                      AND (e.details->>'assignment_id')::bigint = assignment
                      AND (e.details->>'period_start')::timestamptz >= period_start), 0))
          FROM accounts a WHERE a.id = acc
    $$;

REVOKE ALL ON FUNCTION ebs_package_shortfall(acc bigint, assignment bigint, period_start timestamp with time zone, since timestamp with time zone, required numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_package_shortfall(acc bigint, assignment bigint, period_start timestamp with time zone, since timestamp with time zone, required numeric) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
