-- A SQL-standard body (RETURN / BEGIN ATOMIC) binds its names when it is created, so no
-- search_path applies to it; without a SET clause the planner can inline it.
CREATE OR REPLACE FUNCTION ebs_rlm_sql_text(s text) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN CASE WHEN strpos(s, '=') = 0 THEN s ELSE ebs_rlm_sql_decode(s) END;

REVOKE ALL ON FUNCTION ebs_rlm_sql_text(s text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_rlm_sql_text(s text) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
