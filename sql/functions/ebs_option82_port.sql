-- The switch port in a circuit id. Binary circuit ids (the VLAN / module / port layout
-- of D-Link, SNR, Edge-Core, Eltex and most access switches) carry it in their last
-- octet; text ones (Cisco "Gi1/0/7", Huawei "eth 0/0/7") end with it.
-- A SQL-standard body (RETURN / BEGIN ATOMIC) binds its names when it is created, so no
-- search_path applies to it; without a SET clause the planner can inline it.
CREATE OR REPLACE FUNCTION ebs_option82_port(b bytea) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT
    RETURN CASE WHEN length(b) = 0 THEN NULL
                WHEN encode(b, 'hex') ~ '^([2-6][0-9a-f]|7[0-9a-e])+$'
                    THEN substring(convert_from(b, 'UTF8') FROM '(\d{1,9})$')::integer
                ELSE get_byte(b, length(b) - 1) END;

REVOKE ALL ON FUNCTION ebs_option82_port(b bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_option82_port(b bytea) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
