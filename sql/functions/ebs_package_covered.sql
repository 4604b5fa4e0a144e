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
    RETURNS boolean LANGUAGE sql STABLE
    SET search_path = public, pg_temp
    AS $$
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

REVOKE ALL ON FUNCTION ebs_package_covered(acc bigint, assignment bigint, period_start timestamp with time zone, since timestamp with time zone, required numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_package_covered(acc bigint, assignment bigint, period_start timestamp with time zone, since timestamp with time zone, required numeric) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
