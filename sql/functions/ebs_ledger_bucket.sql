-- The 15-minute bucket of ledger_totals a moment falls in.
-- A SQL-standard body (RETURN) binds its names when it is created, so no search_path
-- applies to it; without a SET clause the planner inlines it.
CREATE OR REPLACE FUNCTION ebs_ledger_bucket(at timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN date_bin('15 minutes', at, timestamptz '2000-01-01 00:00:00+00');

REVOKE ALL ON FUNCTION ebs_ledger_bucket(at timestamp with time zone) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_ledger_bucket(at timestamp with time zone) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
