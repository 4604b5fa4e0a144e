-- Free text inside EBS-Facts: the separators ';' and '=' (and '%') percent-encoded.
-- A SQL-standard body (RETURN / BEGIN ATOMIC) binds its names when it is created, so no
-- search_path applies to it; without a SET clause the planner can inline it.
CREATE OR REPLACE FUNCTION ebs_fact_text(s text) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN replace(replace(replace(coalesce(s, ''), '%', '%25'), ';', '%3B'), '=', '%3D');

REVOKE ALL ON FUNCTION ebs_fact_text(s text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_fact_text(s text) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
