-- The auth spool applied (stack/auth_spool.py), by the drain's role: the answers
-- FreeRADIUS spooled (every answer in RADIUS_AUTH_MODE = "spool", those given while the
-- database was away in "live"), each at its own time, with the time it took to answer
-- when the line carries it (NULL for the older lines without it).
CREATE OR REPLACE FUNCTION ebs_auth_log_replay(
    p_logged_at timestamptz[],
    p_username text[],
    p_nas_ip inet[],
    p_calling_station_id text[],
    p_reason text[],
    p_accepted boolean[],
    p_guest boolean[],
    p_answer_us integer[]
) RETURNS integer LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
DECLARE
    v_rows integer;
BEGIN
    INSERT INTO auth_log (logged_at, username, nas_ip, calling_station_id, reason,
                          accepted, guest, answer_us)
    SELECT * FROM unnest(p_logged_at, p_username, p_nas_ip, p_calling_station_id,
                         p_reason, p_accepted, p_guest, p_answer_us);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END $$;

REVOKE ALL ON FUNCTION ebs_auth_log_replay(p_logged_at timestamp with time zone[], p_username text[], p_nas_ip inet[], p_calling_station_id text[], p_reason text[], p_accepted boolean[], p_guest boolean[], p_answer_us integer[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_auth_log_replay(p_logged_at timestamp with time zone[], p_username text[], p_nas_ip inet[], p_calling_station_id text[], p_reason text[], p_accepted boolean[], p_guest boolean[], p_answer_us integer[]) TO ebs_acct;
