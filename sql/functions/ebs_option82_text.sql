-- A sub-option as an operator writes it: printable ASCII as text, anything else as
-- lower-case hex. Remote ids that are a switch's MAC (6 bytes, or type 0 length 6 and
-- the MAC, as D-Link and others send) read as aa:bb:cc:dd:ee:ff.
-- A SQL-standard body (RETURN / BEGIN ATOMIC) binds its names when it is created, so no
-- search_path applies to it; without a SET clause the planner can inline it.
CREATE OR REPLACE FUNCTION ebs_option82_text(b bytea) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    RETURN CASE WHEN encode(b, 'hex') ~ '^([2-6][0-9a-f]|7[0-9a-e])+$'
                THEN convert_from(b, 'UTF8')
                ELSE encode(b, 'hex') END;

REVOKE ALL ON FUNCTION ebs_option82_text(b bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_option82_text(b bytea) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
