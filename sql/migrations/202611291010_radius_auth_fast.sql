-- The Access-Request path, cheaper per request in PostgreSQL's CPU (ebs bench radius-auth).
-- An accept cost three statements (facts, lease, auth log); measured one call at a time,
-- much of their CPU went to planning rather than to reading rows:
--   * rlm_sql sends plain SQL, planned afresh on every call, and the facts query wrapped
--     the function in a CTE, a UNION ALL and a second set-returning function;
--   * a LANGUAGE sql function that is not inlined (ebs_radius_reply_rows, ebs_pool_chain,
--     ebs_pool_gap) plans its body on every call, while a plpgsql function keeps its
--     plans for the life of the connection (rlm_sql's connections live long);
--   * each statement pays executor start-up and a lock per relation and index it reads
--     (past 16 a backend leaves its fast-path lock slots for the shared lock manager).
-- So: the SQL text rlm_sql sends is one function call; the functions are plpgsql and
-- read in few statements. The round trips stay three per accept (facts, lease, log): the
-- log row is not folded into the lease's statement, since rlm_sql re-runs a statement
-- that outlived query_timeout on a new connection, and a lease taken again is the same
-- lease (sticky) while a log row written again is a second row. The rules are those of
-- 202611282305_radius_lookup.sql and 202611282300_ip_leases.sql, which explain them.

-- The facts, the NT-Password, the access window, the speeds and the custom reply
-- attributes of one Access-Request: the subaccount, its account, tariff, pools, NAS and
-- live sessions in one statement, then the tariff's rows. The custom reply attributes
-- (EBS-Reply-Attr, formerly appended by auth.conf through ebs_radius_reply_rows) come
-- last, as before. Same signature and rows as before.
CREATE OR REPLACE FUNCTION ebs_radius_check(
    p_username text, p_nas_ip inet, p_calling_station_id text DEFAULT NULL,
    p_framed_ip inet DEFAULT NULL, p_remote_id text DEFAULT NULL,
    p_circuit_id text DEFAULT NULL, p_src_ip inet DEFAULT NULL
)
    RETURNS TABLE (id bigint, username text, attribute text, value text, op text)
    LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_id bigint;
    v_by text := 'login';
    v_nt text;
    v_chap_sealed bytea;
    v_tariff integer;
    v_chap boolean;
    v_period integer;
    v_nas integer;
    v_facts text;
BEGIN
    SELECT sa.id INTO v_id FROM subaccounts sa WHERE sa.username = p_username;
    IF v_id IS NULL THEN
        SELECT s.subaccount_id, s.found_by INTO v_id, v_by
          FROM ebs_radius_subaccount(p_username, p_calling_station_id, p_framed_ip,
                                     p_remote_id, p_circuit_id) s;
        IF v_id IS NULL THEN
            RETURN;
        END IF;
    END IF;

    SELECT sa.nt_password_hash, sa.chap_password_encrypted,
           t.id, t.chap_enabled, t.access_time_period_id, n.id,
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
               -- Live sessions: heard from within 3 of their interim intervals (floor
               -- 60 s), the stale-session sweep's rule (billing/sessions.py).
               'live=' || (SELECT count(*) FROM sessions_open so
                            WHERE so.subaccount_id = sa.id
                              AND so.updated_at >= now() - make_interval(
                                  secs => 3 * greatest(so.interim_interval, 60))),
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
               'aii=' || coalesce(n.acct_interim_interval::text, ''))
      INTO v_nt, v_chap_sealed, v_tariff, v_chap, v_period, v_nas, v_facts
      FROM subaccounts sa
      JOIN accounts a ON a.id = sa.account_id
      -- The current tariff: the latest assignment that has taken effect.
      LEFT JOIN LATERAL (
          SELECT tr.id, tr.active, tr.access_type, tr.chap_enabled,
                 tr.access_time_period_id, tr.guest_pool_id, tr.ip_pool_id
            FROM account_tariffs at
            JOIN tariffs tr ON tr.id = at.tariff_id
           WHERE at.account_id = sa.account_id AND at.assigned_at <= now()
           ORDER BY at.assigned_at DESC
           LIMIT 1) t ON true
      -- The client the packet came from; the NAS-IP-Address attribute only when the
      -- source is no NAS of ours.
      LEFT JOIN LATERAL (
          SELECT nas.id, nas.vendor, nas.acct_interim_interval
            FROM nas
           WHERE nas.ip_address = p_src_ip OR nas.ip_address = p_nas_ip
           ORDER BY (nas.ip_address = p_src_ip) IS TRUE DESC
           LIMIT 1) n ON true
     WHERE sa.id = v_id;

    username := p_username;
    IF v_nt IS NOT NULL THEN
        id := 1; attribute := 'NT-Password'; value := v_nt; op := ':=';
        RETURN NEXT;
    END IF;
    id := 2; attribute := 'EBS-Facts'; value := v_facts; op := ':=';
    RETURN NEXT;

    IF v_tariff IS NOT NULL THEN
        IF v_chap AND v_chap_sealed IS NOT NULL THEN
            id := 3; attribute := 'EBS-Chap-Sealed'; op := ':=';
            value := encode(v_chap_sealed, 'hex');
            RETURN NEXT;
        END IF;
        IF v_period IS NOT NULL THEN
            RETURN QUERY
                SELECT 4::bigint, p_username, 'EBS-Access-Node'::text,
                       ebs_fact_node(tn.starts_at, tn.length, tn.repeat), '+='::text
                  FROM time_period_nodes tn
                 WHERE tn.time_period_id = v_period
                 ORDER BY tn.id;
        END IF;
        -- The default speed first, then each override with its nodes, in id order (the
        -- order billing.speeds.speed_for breaks ties by).
        RETURN QUERY
            SELECT 5::bigint, p_username, 'EBS-Speed'::text,
                   ts.speed || coalesce((
                       SELECT string_agg(';' || ebs_fact_node(tn.starts_at, tn.length, tn.repeat),
                                         '' ORDER BY tn.id)
                         FROM time_period_nodes tn
                        WHERE tn.time_period_id = ts.time_period_id), ''),
                   '+='::text
              FROM tariff_speeds ts
             WHERE ts.tariff_id = v_tariff
             ORDER BY ts.time_period_id IS NOT NULL, ts.id;
    END IF;

    -- Custom reply attributes of the tariff and the NAS, the most specific last.
    RETURN QUERY
        SELECT 6::bigint, p_username, 'EBS-Reply-Attr'::text,
               ra.applies_when || ';' || ra.op || ';' || ra.attribute || ';'
                   || replace(replace(replace(ebs_fact_text(ra.value), '\', '%5C'), '"', '%22'),
                              '''', '%27'),
               '+='::text
          FROM radius_reply_attributes ra
         WHERE (ra.tariff_id IS NULL OR ra.tariff_id = v_tariff)
           AND (ra.nas_id IS NULL OR ra.nas_id = v_nas)
         ORDER BY (ra.tariff_id IS NOT NULL)::int + (ra.nas_id IS NOT NULL)::int, ra.id;
END $$;

-- Plans kept per connection instead of made per call (ebs_pool_hole calls it when a pool
-- is crowded).
CREATE OR REPLACE FUNCTION ebs_pool_gap(p_pool_id integer, p_from inet, p_to inet)
    RETURNS inet LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_from > p_to THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ip_leases l WHERE l.pool_id = p_pool_id AND l.address = p_from)
    THEN
        RETURN p_from;
    END IF;
    RETURN (SELECT l.address + 1
              FROM ip_leases l
             WHERE l.pool_id = p_pool_id AND l.address >= p_from AND l.address < p_to
               AND NOT EXISTS (SELECT 1 FROM ip_leases n
                                WHERE n.pool_id = p_pool_id AND n.address = l.address + 1)
             ORDER BY l.address
             LIMIT 1);
END $$;

-- The lease: ebs_radius_lease's rules as before, in fewer statements: the chain is walked
-- here with each pool's address family in one statement (ebs_pool_chain's walk, which
-- the lease no longer calls), the subscriber's sticky lease read in one with simultaneous
-- use inside. Same signature and answers as before.
CREATE OR REPLACE FUNCTION ebs_radius_lease(
    p_subaccount_id bigint,
    p_pool text,
    p_nas_ip inet DEFAULT NULL,
    p_offer_seconds integer DEFAULT 60
) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_pools integer[];
    v_v4 boolean[];
    v_expires timestamptz := now() + make_interval(secs => greatest(p_offer_seconds, 1));
    v_id bigint;
    v_address inet;
    v_try integer;
    v_i integer;
BEGIN
    WITH RECURSIVE chain (id, next_pool_id, v4, depth, seen) AS (
        SELECT p.id, p.next_pool_id, family(p.range_start) = 4, 1, ARRAY[p.id]
          FROM ip_pools p WHERE p.name = p_pool
        UNION ALL
        SELECT p.id, p.next_pool_id, family(p.range_start) = 4, c.depth + 1, c.seen || p.id
          FROM chain c JOIN ip_pools p ON p.id = c.next_pool_id
         WHERE p.id <> ALL (c.seen) AND c.depth < 32
    )
    SELECT array_agg(chain.id ORDER BY depth), array_agg(chain.v4 ORDER BY depth)
      INTO v_pools, v_v4
      FROM chain;
    IF v_pools IS NULL THEN
        RETURN 'pool_exhausted';
    END IF;
    IF NOT v_v4[1] THEN
        RETURN 'nas_pool';
    END IF;

    -- Sticky: the subscriber's own lease in the chain. An active one is taken over when
    -- the subscriber may have one session (the decision found the old one stale) or its
    -- session is closed; otherwise each session needs an address of its own.
    SELECT l.id, l.address INTO v_id, v_address
      FROM ip_leases l JOIN ip_pools p ON p.id = l.pool_id
     WHERE l.subaccount_id = p_subaccount_id AND l.pool_id = ANY (v_pools)
       AND l.address BETWEEN p.range_start AND p.range_end
       AND (l.state <> 'active'
            OR coalesce((SELECT sa.simultaneous_use = 1 FROM subaccounts sa
                          WHERE sa.id = p_subaccount_id), false)
            OR NOT EXISTS (SELECT 1 FROM sessions_open o WHERE o.acct_unique_id = l.session_key))
     ORDER BY l.state = 'active', array_position(v_pools, l.pool_id), l.expires_at DESC
     LIMIT 1
       FOR UPDATE OF l SKIP LOCKED;

    IF v_id IS NULL THEN
        FOR v_i IN 1 .. array_length(v_pools, 1) LOOP
            CONTINUE WHEN NOT v_v4[v_i];
            -- An expired or freed row, longest expired first. An active lease whose
            -- session is still open stays its session's whatever its expiry says.
            SELECT l.id, l.address INTO v_id, v_address
              FROM ip_leases l JOIN ip_pools p ON p.id = l.pool_id
             WHERE l.pool_id = v_pools[v_i] AND l.expires_at <= now()
               AND l.address BETWEEN p.range_start AND p.range_end
               AND (l.state <> 'active' OR NOT EXISTS (
                        SELECT 1 FROM sessions_open o WHERE o.acct_unique_id = l.session_key))
             ORDER BY l.expires_at
             LIMIT 1
               FOR UPDATE OF l SKIP LOCKED;
            EXIT WHEN v_id IS NOT NULL;
            -- A never-leased address; a concurrent allocation may insert the same one
            -- first (the unique key says so): try another.
            FOR v_try IN 1..8 LOOP
                v_address := ebs_pool_hole(v_pools[v_i]);
                EXIT WHEN v_address IS NULL;
                INSERT INTO ip_leases (pool_id, address, state, subaccount_id, nas_ip,
                                       leased_at, expires_at)
                VALUES (v_pools[v_i], v_address, 'offered', p_subaccount_id, p_nas_ip, now(),
                        v_expires)
                ON CONFLICT (pool_id, address) DO NOTHING
                RETURNING ip_leases.id INTO v_id;
                EXIT WHEN v_id IS NOT NULL;
            END LOOP;
            IF v_id IS NOT NULL THEN
                RETURN v_id || ' ' || host(v_address);
            END IF;
        END LOOP;
    END IF;

    IF v_id IS NULL THEN
        RETURN 'pool_exhausted';
    END IF;
    UPDATE ip_leases
       SET state = 'offered', subaccount_id = p_subaccount_id, session_key = NULL,
           nas_ip = p_nas_ip, leased_at = now(),
           expires_at = CASE WHEN state = 'active' THEN greatest(expires_at, v_expires)
                             ELSE v_expires END
     WHERE ip_leases.id = v_id;
    RETURN v_id || ' ' || host(v_address);
END $$;

-- Its rows come from ebs_radius_check now.
DROP FUNCTION ebs_radius_reply_rows(text, text);
