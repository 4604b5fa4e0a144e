-- Money helpers, twins of billing/money.py (a test holds them against each other).
-- A SQL-standard body (RETURN) binds its names when it is created, so no search_path
-- applies to it; without a SET clause the planner inlines it into the charging queries.
CREATE OR REPLACE FUNCTION ebs_round_money(value numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN round(value, 2);

REVOKE ALL ON FUNCTION ebs_round_money(value numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_round_money(value numeric) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
