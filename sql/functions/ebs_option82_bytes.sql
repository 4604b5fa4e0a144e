-- An option 82 sub-option as rlm_sql hands it over: the attributes are octets, so
-- '0x' and hex digits; a NAS that declares them as strings sends the text itself.
-- A SQL-standard body (RETURN / BEGIN ATOMIC) binds its names when it is created, so no
-- search_path applies to it; without a SET clause the planner can inline it.
CREATE OR REPLACE FUNCTION ebs_option82_bytes(s text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT
    RETURN CASE WHEN s = '' THEN NULL
                WHEN s ~* '^0x([0-9a-f]{2})+$' THEN decode(substr(s, 3), 'hex')
                ELSE convert_to(s, 'UTF8') END;

REVOKE ALL ON FUNCTION ebs_option82_bytes(s text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_option82_bytes(s text) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
