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
--   EBS-Chap-Sealed  := hex of the sealed CHAP cleartext, only when CHAP is enabled
-- rlm_python3 hands every value to Python through a 1024-byte buffer, so each value is
-- kept short; the hook refuses a value that reaches the limit rather than misread it.
-- The subscriber is found by User-Name (PPP, HotSpot); failing that, by MAC (the
-- Calling-Station-Id, else a User-Name that is a MAC, as DHCP servers send), then by the
-- request's Framed-IP-Address (IPoE). EBS-Facts says which (by=login|mac|ip): the hook
-- admits a MAC or address match only for DHCP/IPoE requests, where the NAS vouches for
-- the client and there is no password. Nothing matched: no rows, rlm_sql says notfound,
-- the hook rejects unknown_login.

-- Free text inside EBS-Facts: the separators ';' and '=' (and '%') percent-encoded.
CREATE FUNCTION ebs_fact_text(s text) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN replace(replace(replace(coalesce(s, ''), '%', '%25'), ';', '%3B'), '=', '%3D');

CREATE FUNCTION ebs_fact_node(starts_at timestamptz, length interval, repeat text)
    RETURNS text LANGUAGE sql IMMUTABLE
    RETURN floor(extract(epoch FROM starts_at))::bigint || ','
        || floor(extract(epoch FROM length))::bigint || ',' || repeat;

-- A MAC in any of the usual spellings, or NULL for anything else (a PPTP caller's IP).
CREATE FUNCTION ebs_try_macaddr(s text) RETURNS macaddr
    LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN s::macaddr;
EXCEPTION WHEN invalid_text_representation THEN
    RETURN NULL;
END $$;

CREATE FUNCTION ebs_radius_check(
    p_username text, p_nas_ip inet, p_calling_station_id text DEFAULT NULL,
    p_framed_ip inet DEFAULT NULL
)
    RETURNS TABLE (id bigint, username text, attribute text, value text, op text)
    LANGUAGE plpgsql STABLE AS $$
DECLARE
    s record;
    t record;
    n record;
    v_live integer;
    v_id bigint;
    v_by text := 'login';
    v_mac macaddr;
BEGIN
    SELECT sa.id INTO v_id FROM subaccounts sa WHERE sa.username = p_username;
    IF v_id IS NULL THEN
        v_mac := coalesce(ebs_try_macaddr(p_calling_station_id), ebs_try_macaddr(p_username));
        IF v_mac IS NOT NULL THEN
            SELECT sa.id, 'mac' INTO v_id, v_by FROM subaccounts sa WHERE sa.mac_address = v_mac;
        END IF;
    END IF;
    IF v_id IS NULL AND p_framed_ip IS NOT NULL THEN
        SELECT sa.id, 'ip' INTO v_id, v_by FROM subaccounts sa WHERE sa.ip_address = p_framed_ip;
    END IF;
    IF v_id IS NULL THEN
        RETURN;
    END IF;

    SELECT sa.id, sa.account_id, sa.username, sa.nt_password_hash, sa.chap_password_encrypted,
           sa.ip_address, sa.mac_address, sa.ip_pool_id, sa.nas_id, sa.bind_to_mac,
           sa.bind_to_ip, sa.simultaneous_use, sa.allow_at_zero, sa.allow_negative,
           sa.allow_when_blocked, a.status, a.blocked_by_balance, a.blocked_by_limit,
           a.balance, a.credit
      INTO s
      FROM subaccounts sa JOIN accounts a ON a.id = sa.account_id
     WHERE sa.id = v_id;

    -- The current tariff: the latest assignment that has taken effect.
    SELECT tr.id, tr.active, tr.access_type, tr.chap_enabled, tr.access_time_period_id,
           tr.guest_pool_id,
           gp.name AS guest_pool, tp.name AS tariff_pool
      INTO t
      FROM account_tariffs at
      JOIN tariffs tr ON tr.id = at.tariff_id
      LEFT JOIN ip_pools gp ON gp.id = tr.guest_pool_id
      LEFT JOIN ip_pools tp ON tp.id = tr.ip_pool_id
     WHERE at.account_id = s.account_id AND at.assigned_at <= now()
     ORDER BY at.assigned_at DESC
     LIMIT 1;

    SELECT nas.id, nas.vendor, nas.acct_interim_interval INTO n
      FROM nas WHERE nas.ip_address = p_nas_ip;

    -- Live sessions: heard from within 3 of their interim intervals (floor 60 s), the
    -- rule of the stale-session sweep (billing/sessions.py), so a session the sweep is
    -- about to close never locks its owner out.
    SELECT count(*) INTO v_live
      FROM sessions_open so
     WHERE so.subaccount_id = s.id
       AND so.updated_at >= now() - make_interval(secs => 3 * greatest(so.interim_interval, 60));

    IF s.nt_password_hash IS NOT NULL THEN
        id := 1; username := p_username; attribute := 'NT-Password';
        value := s.nt_password_hash; op := ':=';
        RETURN NEXT;
    END IF;

    id := 2; username := p_username; attribute := 'EBS-Facts'; op := ':=';
    value := concat_ws(';',
        'v=1',
        'sid=' || s.id,
        'by=' || v_by,
        'st=' || s.status,
        'bb=' || s.blocked_by_balance::int,
        'bl=' || s.blocked_by_limit::int,
        'bal=' || s.balance,
        'cr=' || s.credit,
        'az=' || s.allow_at_zero::int,
        'an=' || s.allow_negative::int,
        'aw=' || s.allow_when_blocked::int,
        'bnas=' || coalesce(s.nas_id::text, ''),
        'bm=' || s.bind_to_mac::int,
        'mac=' || coalesce(s.mac_address::text, ''),
        'bi=' || s.bind_to_ip::int,
        'ip=' || coalesce(host(s.ip_address), ''),
        'su=' || s.simultaneous_use,
        'live=' || v_live,
        'ta=' || coalesce(t.active::int::text, ''),
        'at=' || coalesce(t.access_type, ''),
        'chap=' || coalesce(t.chap_enabled::int::text, '0'),
        'pool=' || ebs_fact_text(coalesce(
            (SELECT p.name FROM ip_pools p WHERE p.id = s.ip_pool_id), t.tariff_pool)),
        'gp=' || coalesce(t.guest_pool_id::text, ''),
        'gpool=' || ebs_fact_text(t.guest_pool),
        'nas=' || coalesce(n.id::text, ''),
        'vendor=' || coalesce(n.vendor, 'other'),
        'aii=' || coalesce(n.acct_interim_interval::text, ''));
    RETURN NEXT;

    IF t.id IS NULL THEN
        RETURN;
    END IF;

    IF t.chap_enabled AND s.chap_password_encrypted IS NOT NULL THEN
        id := 3; attribute := 'EBS-Chap-Sealed'; op := ':=';
        value := encode(s.chap_password_encrypted, 'hex');
        RETURN NEXT;
    END IF;

    RETURN QUERY
        SELECT 4::bigint, p_username, 'EBS-Access-Node'::text,
               ebs_fact_node(tn.starts_at, tn.length, tn.repeat), '+='::text
          FROM time_period_nodes tn
         WHERE tn.time_period_id = t.access_time_period_id
         ORDER BY tn.id;

    -- The default speed first, then each override with its nodes, in id order (the order
    -- billing.speeds.speed_for breaks ties by).
    RETURN QUERY
        SELECT 5::bigint, p_username, 'EBS-Speed'::text,
               ts.speed || coalesce((
                   SELECT string_agg(';' || ebs_fact_node(tn.starts_at, tn.length, tn.repeat),
                                     '' ORDER BY tn.id)
                     FROM time_period_nodes tn
                    WHERE tn.time_period_id = ts.time_period_id), ''),
               '+='::text
          FROM tariff_speeds ts
         WHERE ts.tariff_id = t.id
         ORDER BY ts.time_period_id IS NOT NULL, ts.id;
END $$;

-- The auth log: one row per Access-Request answered, accepted or not, with the reason
-- code (billing.access.Reason). Written by rlm_sql in post-auth (sql/auth.conf under
-- freeradius_conf/mods-config), read by the admin. Partitioned by month like the session
-- history: old months are dropped whole.
CREATE TABLE auth_log (
    id bigint GENERATED ALWAYS AS IDENTITY,
    logged_at timestamptz NOT NULL DEFAULT now(),
    username text NOT NULL DEFAULT '',
    nas_ip inet,
    calling_station_id text NOT NULL DEFAULT '',
    reason text NOT NULL,
    accepted boolean NOT NULL,
    guest boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id, logged_at)
) PARTITION BY RANGE (logged_at);
CREATE INDEX auth_log_logged_at_idx ON auth_log (logged_at);
CREATE INDEX auth_log_username_idx ON auth_log (username, logged_at);
CREATE TABLE auth_log_default PARTITION OF auth_log DEFAULT;
SELECT ebs_ensure_month_partitions('auth_log', now() - interval '1 month', now() + interval '3 months');
