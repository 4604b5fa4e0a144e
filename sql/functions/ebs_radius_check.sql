-- RADIUS authorize without Python round trips: FreeRADIUS's rlm_sql (its own parallel
-- connection pool) runs ebs_radius_check() as its authorize_check_query, and the rows
-- land in the request's control list, where the single python3 hook (rlm_ebs) reads
-- them and decides with billing.access.decide. Python never talks to the database.
--
-- Rows are what rlm_sql expects from a check query: (id, username, attribute, value, op).
-- ':=' and '+=' always "match" in rlm_sql's check comparison, so every row is copied to
-- control. The attributes (freeradius_conf/dictionary, site-local 3000-3999 range):
--   NT-Password      := the NT hash: pap and mschap verify against it
--   EBS-Facts        := key=value pairs joined by ';' (parsed by rlm_ebs/facts.py)
--   EBS-Access-Node  += "epoch,seconds,REPEAT" per node of the tariff's access window
--   EBS-Speed        += "speed" (default) or "speed;epoch,seconds,REPEAT;..." (override)
--   EBS-Limit-Speed  += "absolute:speed" | "add:speed" | "percent:n" per speed limit in
--                       force on the account (account_traffic_limits): the login gives
--                       the limited speed (billing.traffic_limits.limited_speed)
--   EBS-Chap-Sealed  := hex of the sealed CHAP cleartext, only when CHAP is enabled
--   EBS-Reject-Message := '1' when the NAS shows a reject's Reply-Message to the
--                       subscriber (nas.reject_reply_message), found or not: an unknown
--                       login is told so too (rlm_ebs/reject_reply.py writes the text)
-- rlm_python3 hands every value to Python through a 1024-byte buffer, so each value is
-- kept short; the hook refuses a value that reaches the limit rather than misread it.
-- The subscriber is found by User-Name (PPP, HotSpot); failing that, and only when the
-- request comes from a NAS marked for DHCP/IPoE (nas.dhcp_ipoe), by option 82, by MAC
-- (the Calling-Station-Id, else a User-Name that is a MAC, as DHCP servers send), then by
-- the request's Framed-IP-Address (IPoE). EBS-Facts says which (by=login|mac|ip): the
-- hook also admits a MAC or address match only for DHCP/IPoE requests, where the NAS
-- vouches for the client and there is no password. Nothing matched: no rows, rlm_sql
-- says notfound, the hook rejects unknown_login.
--
-- The Access-Request path, cheaper per request in PostgreSQL's CPU (ebs bench radius-auth).
-- An accept cost three statements (facts, lease, auth log); measured one call at a time,
-- much of their CPU went to planning rather than to reading rows:
--   * rlm_sql sends plain SQL, planned afresh on every call, and the facts query wrapped
--     the function in a CTE, a UNION ALL and a second set-returning function;
--   * a LANGUAGE sql function that is not inlined plans its body on every call, while a plpgsql function keeps its
--     plans for the life of the connection (rlm_sql's connections live long);
--   * each statement pays executor start-up and a lock per relation and index it reads
--     (past 16 a backend leaves its fast-path lock slots for the shared lock manager).
-- So: the SQL text rlm_sql sends is one function call; the functions are plpgsql and
-- read in few statements. The round trips stay three per accept (facts, lease, log): the
-- log row is not folded into the lease's statement, since rlm_sql re-runs a statement
-- that outlived query_timeout on a new connection, and a lease taken again is the same
-- lease (sticky) while a log row written again is a second row. The rules are those of
-- ebs_radius_subaccount.sql and ebs_radius_lease.sql, which explain them.
--
-- The facts, the NT-Password, the access window, the speeds and the custom reply
-- attributes of one Access-Request: the subaccount, its account, tariff, pools, NAS and
-- live sessions in one statement, then the tariff's rows. The custom reply attributes
-- (EBS-Reply-Attr) come last.
CREATE OR REPLACE FUNCTION ebs_radius_check(
    p_username text, p_nas_ip text, p_calling_station_id text DEFAULT NULL,
    p_framed_ip text DEFAULT NULL, p_remote_id text DEFAULT NULL,
    p_circuit_id text DEFAULT NULL, p_src_ip text DEFAULT NULL
)
    RETURNS TABLE (id bigint, username text, attribute text, value text, op text)
    LANGUAGE plpgsql STABLE
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
DECLARE
    -- What rlm_sql sent, as the NAS sent it (ebs_rlm_sql_text): decoded here, where
    -- plpgsql keeps the expressions' plans, and not in the query text, which rlm_sql
    -- sends as plain SQL planned on every call (its casts and decoders cost ~50 µs a
    -- login to plan). Empty means absent.
    v_username text := ebs_rlm_sql_text(p_username);
    v_nas_ip inet := NULLIF(p_nas_ip, '')::inet;
    v_calling_station_id text := ebs_rlm_sql_text(NULLIF(p_calling_station_id, ''));
    v_framed_ip inet := NULLIF(p_framed_ip, '')::inet;
    v_remote_id text := ebs_rlm_sql_text(NULLIF(p_remote_id, ''));
    v_circuit_id text := ebs_rlm_sql_text(NULLIF(p_circuit_id, ''));
    v_src_ip inet := NULLIF(p_src_ip, '')::inet;
    v_id bigint;
    v_by text := 'login';
    v_nt text;
    v_chap_sealed bytea;
    v_tariff integer;
    v_chap boolean;
    v_period integer;
    v_nas integer;
    v_facts text;
    v_dhcp_ipoe boolean;
    v_reject_message boolean;
    v_limit_speeds text[];
    v_limit_speed text;
BEGIN
    SELECT sa.id INTO v_id FROM subaccounts sa WHERE sa.username = v_username;
    IF v_id IS NULL THEN
        -- Password-less lookups only for a NAS that serves DHCP/IPoE (the same client
        -- rule as below: the packet's source, else NAS-IP-Address).
        SELECT nas.dhcp_ipoe, nas.reject_reply_message INTO v_dhcp_ipoe, v_reject_message
          FROM nas
         WHERE nas.ip_address = v_src_ip OR nas.ip_address = v_nas_ip
         ORDER BY (nas.ip_address = v_src_ip) IS TRUE DESC
         LIMIT 1;
        IF v_dhcp_ipoe IS TRUE THEN
            SELECT s.subaccount_id, s.found_by INTO v_id, v_by
              FROM ebs_radius_subaccount(v_username, v_calling_station_id, v_framed_ip,
                                         v_remote_id, v_circuit_id) s;
        END IF;
        IF v_id IS NULL THEN
            -- Nobody: no facts (the hook rejects unknown_login), only the NAS's wish to
            -- show the subscriber why.
            IF v_reject_message THEN
                id := 7; username := v_username; attribute := 'EBS-Reject-Message';
                value := '1'; op := ':=';
                RETURN NEXT;
            END IF;
            RETURN;
        END IF;
    END IF;

    SELECT sa.nt_password_hash, sa.chap_password_encrypted,
           t.id, t.chap_enabled, t.access_time_period_id, n.id, n.reject_reply_message,
           concat_ws(';',
               'v=1',
               'sid=' || sa.id,
               'by=' || v_by,
               'st=' || a.status,
               'bb=' || a.blocked_by_balance::int,
               'bl=' || a.blocked_by_limit::int,
               'bal=' || a.balance,
               'cr=' || a.credit,
               'az=' || sa.allow_at_zero::int,
               'an=' || sa.allow_negative::int,
               'aw=' || sa.allow_when_blocked::int,
               'bnas=' || coalesce(sa.nas_id::text, ''),
               'bm=' || sa.bind_to_mac::int,
               'mac=' || coalesce(sa.mac_address::text, ''),
               'bi=' || sa.bind_to_ip::int,
               'ip=' || coalesce(host(sa.ip_address), ''),
               'su=' || sa.simultaneous_use,
               -- Has a lease row (held, or freed and still naming it): its login leases
               -- through ebs_radius_lease, which gives the same address back (sticky),
               -- not from the node's reserved addresses (rlm_ebs/reservations.py).
               'stk=' || ebs_subaccount_has_lease(sa.id)::int,
               -- Live sessions: heard from within their hold (ebs_session_hold), the
               -- stale-session sweep's rule (billing/sessions.py).
               'live=' || (SELECT count(*) FROM sessions_open so
                            WHERE so.subaccount_id = sa.id
                              AND so.updated_at >= now() - ebs_session_hold(so.interim_interval)),
               'ta=' || coalesce(t.active::int::text, ''),
               'at=' || coalesce(t.access_type, ''),
               'chap=' || coalesce(t.chap_enabled::int::text, '0'),
               'pool=' || ebs_fact_text(coalesce(
                   (SELECT p.name FROM ip_pools p WHERE p.id = sa.ip_pool_id),
                   (SELECT p.name FROM ip_pools p WHERE p.id = t.ip_pool_id))),
               'gp=' || coalesce(t.guest_pool_id::text, ''),
               'gpool=' || ebs_fact_text(
                   (SELECT p.name FROM ip_pools p WHERE p.id = t.guest_pool_id)),
               'nas=' || coalesce(n.id::text, ''),
               'vendor=' || coalesce(n.vendor, 'other'),
               'aii=' || coalesce(n.acct_interim_interval::text, '')),
           -- The speed limits in force, by the table's primary key, spelled as the
           -- enforcement's query spells them (worker/live_sessions.py, limit_speeds) and
           -- in its order, so the login gives the speed the enforcement holds due. Read
           -- here, not by a statement of its own: most accounts have none.
           (SELECT array_agg(l.speed_mode || ':' || coalesce(l.speed, l.percent::text)
                             ORDER BY l.id)
              FROM account_traffic_limits s
              JOIN tariff_traffic_limits l ON l.id = s.limit_id
             WHERE s.account_id = sa.account_id AND l.action = 'speed')
      INTO v_nt, v_chap_sealed, v_tariff, v_chap, v_period, v_nas, v_reject_message,
           v_facts, v_limit_speeds
      FROM subaccounts sa
      JOIN accounts a ON a.id = sa.account_id
      -- The current tariff (ebs_assignment_in_force, inlined: the same index read).
      LEFT JOIN LATERAL (
          SELECT tr.id, tr.active, tr.access_type, tr.chap_enabled,
                 tr.access_time_period_id, tr.guest_pool_id, tr.ip_pool_id
            FROM ebs_assignment_in_force(sa.account_id, now()) at
            JOIN tariffs tr ON tr.id = at.tariff_id) t ON true
      -- The client the packet came from; the NAS-IP-Address attribute only when the
      -- source is no NAS of ours.
      LEFT JOIN LATERAL (
          SELECT nas.id, nas.vendor, nas.acct_interim_interval, nas.reject_reply_message
            FROM nas
           WHERE nas.ip_address = v_src_ip OR nas.ip_address = v_nas_ip
           ORDER BY (nas.ip_address = v_src_ip) IS TRUE DESC
           LIMIT 1) n ON true
     WHERE sa.id = v_id;

    username := v_username;
    IF v_nt IS NOT NULL THEN
        id := 1; attribute := 'NT-Password'; value := v_nt; op := ':=';
        RETURN NEXT;
    END IF;
    id := 2; attribute := 'EBS-Facts'; value := v_facts; op := ':=';
    RETURN NEXT;
    IF v_reject_message THEN
        id := 7; attribute := 'EBS-Reject-Message'; value := '1'; op := ':=';
        RETURN NEXT;
    END IF;

    IF v_tariff IS NOT NULL THEN
        IF v_chap AND v_chap_sealed IS NOT NULL THEN
            id := 3; attribute := 'EBS-Chap-Sealed'; op := ':=';
            value := encode(v_chap_sealed, 'hex');
            RETURN NEXT;
        END IF;
        IF v_period IS NOT NULL THEN
            RETURN QUERY
                SELECT 4::bigint, v_username, 'EBS-Access-Node'::text,
                       ebs_fact_node(tn.starts_at, tn.length, tn.repeat), '+='::text
                  FROM time_period_nodes tn
                 WHERE tn.time_period_id = v_period
                 ORDER BY tn.id;
        END IF;
        -- The default speed first, then each override with its nodes, in id order (the
        -- order billing.speeds.speed_for breaks ties by).
        RETURN QUERY
            SELECT 5::bigint, v_username, 'EBS-Speed'::text,
                   ts.speed || coalesce((
                       SELECT string_agg(';' || ebs_fact_node(tn.starts_at, tn.length, tn.repeat),
                                         '' ORDER BY tn.id)
                         FROM time_period_nodes tn
                        WHERE tn.time_period_id = ts.time_period_id), ''),
                   '+='::text
              FROM tariff_speeds ts
             WHERE ts.tariff_id = v_tariff
             ORDER BY ts.time_period_id IS NOT NULL, ts.id;
        id := 8; attribute := 'EBS-Limit-Speed'; op := '+=';
        FOREACH v_limit_speed IN ARRAY coalesce(v_limit_speeds, '{}') LOOP
            value := v_limit_speed;
            RETURN NEXT;
        END LOOP;
    END IF;

    -- Custom reply attributes of the tariff and the NAS, the most specific last.
    RETURN QUERY
        SELECT 6::bigint, v_username, 'EBS-Reply-Attr'::text,
               ra.applies_when || ';' || ra.op || ';' || ra.attribute || ';'
                   || replace(replace(replace(ebs_fact_text(ra.value), '\', '%5C'), '"', '%22'),
                              '''', '%27'),
               '+='::text
          FROM radius_reply_attributes ra
         WHERE (ra.tariff_id IS NULL OR ra.tariff_id = v_tariff)
           AND (ra.nas_id IS NULL OR ra.nas_id = v_nas)
         ORDER BY (ra.tariff_id IS NOT NULL)::int + (ra.nas_id IS NOT NULL)::int, ra.id;
END $$;

REVOKE ALL ON FUNCTION ebs_radius_check(p_username text, p_nas_ip text, p_calling_station_id text, p_framed_ip text, p_remote_id text, p_circuit_id text, p_src_ip text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_radius_check(p_username text, p_nas_ip text, p_calling_station_id text, p_framed_ip text, p_remote_id text, p_circuit_id text, p_src_ip text) TO ebs_radius;
