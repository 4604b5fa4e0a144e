-- The auth log's spool applied (stack/auth_spool.py): the answers FreeRADIUS gave while
-- the database was away, each at its own time, written by the accounting drain's role.
CREATE OR REPLACE FUNCTION ebs_auth_log_replay(
    p_logged_at timestamptz[],
    p_username text[],
    p_nas_ip inet[],
    p_calling_station_id text[],
    p_reason text[],
    p_accepted boolean[],
    p_guest boolean[]
) RETURNS integer LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
DECLARE
    v_rows integer;
BEGIN
    INSERT INTO auth_log (logged_at, username, nas_ip, calling_station_id, reason,
                          accepted, guest)
    SELECT * FROM unnest(p_logged_at, p_username, p_nas_ip, p_calling_station_id,
                         p_reason, p_accepted, p_guest);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END $$;

REVOKE ALL ON FUNCTION ebs_auth_log_replay(p_logged_at timestamp with time zone[], p_username text[], p_nas_ip inet[], p_calling_station_id text[], p_reason text[], p_accepted boolean[], p_guest boolean[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_auth_log_replay(p_logged_at timestamp with time zone[], p_username text[], p_nas_ip inet[], p_calling_station_id text[], p_reason text[], p_accepted boolean[], p_guest boolean[]) TO ebs_acct;
