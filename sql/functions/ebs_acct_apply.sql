-- RADIUS accounting applied inside PostgreSQL.
--
-- FreeRADIUS's rlm_sql calls ebs_acct_apply() once per Accounting-Request from its own
-- connection pool (parallel, no Python in the path). The function makes every packet
-- idempotent and order-insensitive, so a retransmission, a reordering or a replay of the
-- detail-file buffer changes nothing it should not:
--   * Start creates the open session, or completes one an Interim created first;
--   * Interim-Update upserts, and counters never go back (GREATEST);
--   * Stop moves the row to sessions_history with the final counters and cause; with no
--     open row it still writes history; a duplicate Stop finds the history row and stops;
--   * Accounting-On/Off closes every open session of that NAS with cause 'NAS-Reboot'.
-- A packet arriving after its session was closed by a Stop or a NAS reboot is ignored
-- (it would reopen a dead session); one arriving after the stale-session sweep closed it
-- proves the session alive, so the session is reopened from its history row.
-- Counters are 64-bit: Acct-*-Gigawords * 2^32 + Acct-*-Octets.
-- p_rlm_sql_escaped: the text arguments come as rlm_sql escaped them (see
-- ebs_rlm_sql_text); they are decoded only on the paths that store them, so the common
-- Interim-Update pays nothing for it (decoding all six in the query cost a third of the
-- rate).
-- The last argument is the Class the NAS echoes: its subaccount wins over the User-Name
-- (ebs_acct_subaccount), and Start and Interim confirm / hold the session's lease
-- (ebs_lease_touch); closing the session frees it (ebs_leases_free_closed).
CREATE OR REPLACE FUNCTION ebs_acct_apply(
    p_status text,
    p_acct_unique_id text,
    p_acct_session_id text,
    p_username text,
    p_nas_ip inet,
    p_framed_ip inet,
    p_calling text,
    p_called text,
    p_nas_port_id text,
    p_input_octets bigint,
    p_input_gigawords bigint,
    p_output_octets bigint,
    p_output_gigawords bigint,
    p_session_time integer,
    p_event_time timestamptz,
    p_terminate_cause text,
    p_interim_interval integer,
    p_delay integer DEFAULT 0,
    p_rlm_sql_escaped boolean DEFAULT false,
    p_class text DEFAULT NULL
) RETURNS text LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
DECLARE
    v_in bigint := coalesce(p_input_gigawords, 0) * 4294967296 + coalesce(p_input_octets, 0);
    v_out bigint := coalesce(p_output_gigawords, 0) * 4294967296 + coalesce(p_output_octets, 0);
    v_time integer := greatest(coalesce(p_session_time, 0), 0);
    -- When the NAS sent no Event-Timestamp: arrival minus Acct-Delay-Time.
    v_event timestamptz := coalesce(
        p_event_time, now() - make_interval(secs => greatest(coalesce(p_delay, 0), 0)));
    v_cause text := coalesce(p_terminate_cause, '');
    -- No history row of this session can have stopped before it started: look no further
    -- back (a day of NAS clock skew allowed), so only recent partitions are probed.
    v_oldest timestamptz := v_event - make_interval(secs => v_time) - interval '1 day';
    v_found boolean;
    v_closed sessions_history%ROWTYPE;
    v_moved integer;
    v_sid bigint;
    v_interim integer;
BEGIN
    IF p_status IN ('Accounting-On', 'Accounting-Off') THEN
        WITH gone AS (
            DELETE FROM sessions_open WHERE nas_ip = p_nas_ip RETURNING *
        )
        INSERT INTO sessions_history (
            acct_unique_id, acct_session_id, subaccount_id, account_id, nas_id, nas_ip,
            username, framed_ip, calling_station_id, called_station_id, nas_port_id,
            started_at, stopped_at, input_octets, output_octets, session_time,
            terminate_cause)
        SELECT acct_unique_id, acct_session_id, subaccount_id, account_id, nas_id, nas_ip,
               username, framed_ip, calling_station_id, called_station_id, nas_port_id,
               started_at, greatest(started_at, v_event), input_octets, output_octets,
               session_time, 'NAS-Reboot'
          FROM gone
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_moved = ROW_COUNT;
        RETURN 'nas-reboot:' || v_moved;
    END IF;

    IF p_acct_unique_id IS NULL OR p_acct_unique_id = '' OR p_nas_ip IS NULL THEN
        RETURN 'ignored:no-key';
    END IF;

    IF p_rlm_sql_escaped AND p_status = 'Stop' THEN
        v_cause := ebs_rlm_sql_text(v_cause);
    END IF;

    IF p_status = 'Stop' THEN
        WITH gone AS (
            DELETE FROM sessions_open WHERE acct_unique_id = p_acct_unique_id RETURNING *
        )
        INSERT INTO sessions_history (
            acct_unique_id, acct_session_id, subaccount_id, account_id, nas_id, nas_ip,
            username, framed_ip, calling_station_id, called_station_id, nas_port_id,
            started_at, stopped_at, input_octets, output_octets, session_time,
            terminate_cause)
        SELECT acct_unique_id, acct_session_id, subaccount_id, account_id, nas_id, nas_ip,
               username, coalesce(p_framed_ip, framed_ip), calling_station_id,
               called_station_id, nas_port_id, started_at,
               -- Deterministic from the packet and the row, never from the arrival time.
               coalesce(p_event_time,
                        started_at + make_interval(secs => greatest(session_time, v_time))),
               greatest(input_octets, v_in), greatest(output_octets, v_out),
               greatest(session_time, v_time), v_cause
          FROM gone
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_moved = ROW_COUNT;
        IF v_moved > 0 THEN
            RETURN 'stopped';
        END IF;

        -- No open row: a duplicate Stop, a Stop for a swept session, or one with no Start.
        UPDATE sessions_history
           SET input_octets = greatest(input_octets, v_in),
               output_octets = greatest(output_octets, v_out),
               session_time = greatest(session_time, v_time),
               terminate_cause = v_cause
         WHERE acct_unique_id = p_acct_unique_id AND stopped_at >= v_oldest
           AND terminate_cause = 'Stale-Session';
        IF FOUND THEN
            RETURN 'stopped:after-sweep';
        END IF;
        PERFORM 1 FROM sessions_history
         WHERE acct_unique_id = p_acct_unique_id AND stopped_at >= v_oldest;
        IF FOUND THEN
            RETURN 'duplicate';
        END IF;
        IF p_rlm_sql_escaped AND strpos(concat(p_acct_session_id, p_username, p_calling,
                                               p_called, p_nas_port_id), '=') > 0 THEN
            p_acct_session_id := ebs_rlm_sql_text(p_acct_session_id);
            p_username := ebs_rlm_sql_text(p_username);
            p_calling := ebs_rlm_sql_text(p_calling);
            p_called := ebs_rlm_sql_text(p_called);
            p_nas_port_id := ebs_rlm_sql_text(p_nas_port_id);
        END IF;
        INSERT INTO sessions_history (
            acct_unique_id, acct_session_id, subaccount_id, account_id, nas_id, nas_ip,
            username, framed_ip, calling_station_id, called_station_id, nas_port_id,
            started_at, stopped_at, input_octets, output_octets, session_time,
            terminate_cause)
        SELECT p_acct_unique_id, coalesce(p_acct_session_id, ''), s.id, s.account_id, n.id,
               p_nas_ip, coalesce(p_username, ''), p_framed_ip, coalesce(p_calling, ''),
               coalesce(p_called, ''), coalesce(p_nas_port_id, ''),
               v_event - make_interval(secs => v_time), v_event, v_in, v_out, v_time, v_cause
          FROM (SELECT 1) AS one
          LEFT JOIN subaccounts s ON s.id = ebs_acct_subaccount(p_class, p_username)
          LEFT JOIN nas n ON n.ip_address = p_nas_ip
        ON CONFLICT DO NOTHING;
        RETURN 'stopped:no-start';
    END IF;

    IF p_status NOT IN ('Start', 'Interim-Update', 'Alive') THEN
        RETURN 'ignored:' || coalesce(p_status, '');
    END IF;

    -- The fast path: the session is open (almost every Interim-Update).
    UPDATE sessions_open
       SET started_at = CASE WHEN p_status = 'Start' THEN v_event ELSE started_at END,
           updated_at = greatest(updated_at, now()),
           framed_ip = coalesce(p_framed_ip, framed_ip),
           input_octets = greatest(input_octets, v_in),
           output_octets = greatest(output_octets, v_out),
           session_time = greatest(session_time, v_time),
           interim_interval = coalesce(p_interim_interval, interim_interval)
     WHERE acct_unique_id = p_acct_unique_id
    RETURNING subaccount_id, interim_interval INTO v_sid, v_interim;
    IF FOUND THEN
        PERFORM ebs_lease_touch(p_acct_unique_id, (ebs_class_ids(p_class)).lease_id, v_sid,
                                p_framed_ip, v_interim);
        RETURN 'updated';
    END IF;

    -- Closed already? A late packet must not reopen a stopped session; the sweep's guess
    -- that it was dead is undone by this proof of life.
    SELECT * INTO v_closed FROM sessions_history
     WHERE acct_unique_id = p_acct_unique_id AND stopped_at >= v_oldest
     ORDER BY (terminate_cause = 'Stale-Session'), stopped_at DESC
     LIMIT 1;
    v_found := FOUND;
    IF v_found AND v_closed.terminate_cause <> 'Stale-Session' THEN
        RETURN 'ignored:closed';
    END IF;
    IF v_found THEN
        DELETE FROM sessions_history
         WHERE acct_unique_id = p_acct_unique_id AND stopped_at = v_closed.stopped_at;
    END IF;

    IF p_rlm_sql_escaped AND strpos(concat(p_acct_session_id, p_username, p_calling,
                                           p_called, p_nas_port_id), '=') > 0 THEN
        p_acct_session_id := ebs_rlm_sql_text(p_acct_session_id);
        p_username := ebs_rlm_sql_text(p_username);
        p_calling := ebs_rlm_sql_text(p_calling);
        p_called := ebs_rlm_sql_text(p_called);
        p_nas_port_id := ebs_rlm_sql_text(p_nas_port_id);
    END IF;
    INSERT INTO sessions_open AS o (
        acct_unique_id, acct_session_id, subaccount_id, account_id, nas_id, nas_ip,
        username, framed_ip, calling_station_id, called_station_id, nas_port_id,
        started_at, updated_at, input_octets, output_octets, session_time, interim_interval,
        given_state)
    SELECT p_acct_unique_id, coalesce(p_acct_session_id, ''), s.id, s.account_id, n.id,
           p_nas_ip, coalesce(p_username, ''), p_framed_ip, coalesce(p_calling, ''),
           coalesce(p_called, ''), coalesce(p_nas_port_id, ''),
           CASE WHEN v_found THEN v_closed.started_at
                WHEN p_status = 'Start' THEN v_event
                ELSE v_event - make_interval(secs => v_time) END,
           now(),
           greatest(v_in, coalesce(v_closed.input_octets, 0)),
           greatest(v_out, coalesce(v_closed.output_octets, 0)),
           greatest(v_time, coalesce(v_closed.session_time, 0)),
           coalesce(p_interim_interval, n.acct_interim_interval, 300),
           ebs_class_given(p_class)
      FROM (SELECT 1) AS one
      LEFT JOIN subaccounts s ON s.id = ebs_acct_subaccount(p_class, p_username)
      LEFT JOIN nas n ON n.ip_address = p_nas_ip
    ON CONFLICT (acct_unique_id) DO UPDATE
       SET started_at = CASE WHEN p_status = 'Start' THEN excluded.started_at
                             ELSE o.started_at END,
           updated_at = greatest(o.updated_at, excluded.updated_at),
           framed_ip = coalesce(excluded.framed_ip, o.framed_ip),
           input_octets = greatest(o.input_octets, excluded.input_octets),
           output_octets = greatest(o.output_octets, excluded.output_octets),
           session_time = greatest(o.session_time, excluded.session_time),
           interim_interval = coalesce(p_interim_interval, o.interim_interval),
           given_state = coalesce(o.given_state, excluded.given_state)
    RETURNING o.subaccount_id, o.interim_interval INTO v_sid, v_interim;
    PERFORM ebs_lease_touch(p_acct_unique_id, (ebs_class_ids(p_class)).lease_id, v_sid,
                            p_framed_ip, v_interim);
    RETURN CASE WHEN v_found THEN 'reopened' ELSE 'created' END;
END $$;

COMMENT ON FUNCTION ebs_acct_apply(text, text, text, text, inet, inet, text, text, text,
    bigint, bigint, bigint, bigint, integer, timestamptz, text, integer, integer, boolean, text)
    IS 'Apply one RADIUS Accounting-Request (called by FreeRADIUS rlm_sql); idempotent.';

REVOKE ALL ON FUNCTION ebs_acct_apply(p_status text, p_acct_unique_id text, p_acct_session_id text, p_username text, p_nas_ip inet, p_framed_ip inet, p_calling text, p_called text, p_nas_port_id text, p_input_octets bigint, p_input_gigawords bigint, p_output_octets bigint, p_output_gigawords bigint, p_session_time integer, p_event_time timestamp with time zone, p_terminate_cause text, p_interim_interval integer, p_delay integer, p_rlm_sql_escaped boolean, p_class text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_acct_apply(p_status text, p_acct_unique_id text, p_acct_session_id text, p_username text, p_nas_ip inet, p_framed_ip inet, p_calling text, p_called text, p_nas_port_id text, p_input_octets bigint, p_input_gigawords bigint, p_output_octets bigint, p_output_gigawords bigint, p_session_time integer, p_event_time timestamp with time zone, p_terminate_cause text, p_interim_interval integer, p_delay integer, p_rlm_sql_escaped boolean, p_class text) TO ebs_radius, ebs_acct;
