-- A MAC in any of the usual spellings (aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF,
-- aabb.ccdd.eeff, aabbccddeeff), or NULL for anything else (a PPTP caller's IP). The
-- same rule as billing.access.normalize_mac, without an exception block per call.
-- A SQL-standard body (RETURN / BEGIN ATOMIC) binds its names when it is created, so no
-- search_path applies to it; without a SET clause the planner can inline it.
CREATE OR REPLACE FUNCTION ebs_try_macaddr(s text) RETURNS macaddr
    LANGUAGE sql IMMUTABLE
    RETURN CASE WHEN regexp_replace(s, '[\s:.-]', '', 'g') ~* '^[0-9a-f]{12}$'
                THEN regexp_replace(s, '[\s:.-]', '', 'g')::macaddr END;

REVOKE ALL ON FUNCTION ebs_try_macaddr(s text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_try_macaddr(s text) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
