-- "Require package cost": is a pending block covered? Covered when nothing is lacking by
-- ebs_package_shortfall, which says what counts as money toward the package and why.
CREATE OR REPLACE FUNCTION ebs_package_covered(acc bigint, assignment bigint,
                                               period_start timestamptz,
                                               since timestamptz, required numeric)
    RETURNS boolean LANGUAGE sql STABLE
    SET search_path = public, pg_temp
    AS $$
        SELECT ebs_package_shortfall(acc, assignment, period_start, since, required) <= 0
    $$;

REVOKE ALL ON FUNCTION ebs_package_covered(acc bigint, assignment bigint, period_start timestamp with time zone, since timestamp with time zone, required numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_package_covered(acc bigint, assignment bigint, period_start timestamp with time zone, since timestamp with time zone, required numeric) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
