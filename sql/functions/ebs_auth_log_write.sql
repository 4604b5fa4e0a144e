-- The auth log is written on every Access-Request by rlm_sql in post-auth. It is a log for
-- people ("why can't this subscriber connect?"), not a record money or addresses depend
-- on, so its commit does not wait for the WAL flush: the answer to the NAS never waits for
-- an fsync of a log row. A crash may lose the last fraction of a second of log rows, never
-- a lease (leased by its own durable statement) or an accounting packet.
--
-- p_received is the request's arrival at FreeRADIUS in Unix seconds with microseconds
-- (the site passes '%l.%M'); the row keeps how long the answer took up to here, which
-- the monitoring reads per NAS. Clamped at zero (a clock stepped back) and at an hour.
CREATE OR REPLACE FUNCTION ebs_auth_log_write(
    p_username text,
    p_nas_ip inet,
    p_calling_station_id text,
    p_reason text,
    p_accepted boolean,
    p_guest boolean,
    p_received numeric DEFAULT NULL
) RETURNS void LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
BEGIN
    -- Local to the statement's own transaction (rlm_sql runs it in autocommit).
    PERFORM set_config('synchronous_commit', 'off', true);
    INSERT INTO auth_log (username, nas_ip, calling_station_id, reason, accepted, guest,
                          answer_us)
    VALUES (p_username, p_nas_ip, p_calling_station_id, p_reason, p_accepted, p_guest,
            CASE WHEN p_received IS NOT NULL THEN
                least(greatest(round((extract(epoch FROM clock_timestamp()) - p_received)
                                     * 1000000), 0), 3600000000)::integer
            END);
END $$;

REVOKE ALL ON FUNCTION ebs_auth_log_write(p_username text, p_nas_ip inet, p_calling_station_id text, p_reason text, p_accepted boolean, p_guest boolean, p_received numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_auth_log_write(p_username text, p_nas_ip inet, p_calling_station_id text, p_reason text, p_accepted boolean, p_guest boolean, p_received numeric) TO ebs_radius;
