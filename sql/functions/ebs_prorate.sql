-- round(cost·done/total) to cents, half away from zero, in exact integer arithmetic, so
-- the result never depends on numeric division's scale.
-- A SQL-standard body (RETURN) binds its names when it is created, so no search_path
-- applies to it; without a SET clause the planner inlines it into the charging queries.
CREATE OR REPLACE FUNCTION ebs_prorate(cost numeric, done bigint, total bigint) RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN round(sign(cost) * div(2 * abs(round(cost * 100)) * done + total, 2 * total) / 100, 2);

REVOKE ALL ON FUNCTION ebs_prorate(cost numeric, done bigint, total bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_prorate(cost numeric, done bigint, total bigint) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
