-- The cumulative rule: a piece [done_from, done_to) of total costs the change of the
-- rounded cumulative amount, so any split of a period sums to the cost exactly.
-- A SQL-standard body (RETURN) binds its names when it is created, so no search_path
-- applies to it; without a SET clause the planner inlines it into the charging queries.
CREATE OR REPLACE FUNCTION ebs_prorate_piece(cost numeric, done_from bigint, done_to bigint, total bigint)
    RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN round(ebs_prorate(cost, done_to, total) - ebs_prorate(cost, done_from, total), 2);

REVOKE ALL ON FUNCTION ebs_prorate_piece(cost numeric, done_from bigint, done_to bigint, total bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_prorate_piece(cost numeric, done_from bigint, done_to bigint, total bigint) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
