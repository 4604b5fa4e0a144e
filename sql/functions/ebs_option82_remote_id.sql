-- A SQL-standard body (RETURN / BEGIN ATOMIC) binds its names when it is created, so no
-- search_path applies to it; without a SET clause the planner can inline it.
CREATE OR REPLACE FUNCTION ebs_option82_remote_id(b bytea) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    RETURN CASE WHEN length(b) = 6 THEN encode(b, 'hex')::macaddr::text
                WHEN length(b) = 8 AND substr(b, 1, 2) = '\x0006'::bytea
                    THEN encode(substr(b, 3), 'hex')::macaddr::text
                ELSE ebs_option82_text(b) END;

REVOKE ALL ON FUNCTION ebs_option82_remote_id(b bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_option82_remote_id(b bytea) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
