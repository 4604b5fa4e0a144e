-- The lease's row searches, kept on their own indexes whatever the statistics say.
-- Both checked "the address is still inside its pool's range" (a range can shrink) with
-- l.address BETWEEN range_start AND range_end, which the (pool_id, address) key and the
-- address index can serve; on a young or not yet analysed ip_leases the planner took
-- that path for the look for an expired row, and plpgsql kept the plan for the life of
-- rlm_sql's connection: every login read every lease of the pool (measured: 6,000 rows
-- read to find none, about 4 ms at 6,000 leases, growing with the pool). The sticky
-- search walked the pool's expiry index the same way through its pool test and join.
-- Written as l.address + 0 and l.pool_id + 0 those tests are filters only, so the look
-- for an expired row uses ip_leases_expiry_idx (pool, expiry order: the LIMIT 1 reads
-- one row) and the sticky search ip_leases_subaccount_idx (the subscriber's few rows).
-- Same rules and answers as 202611291010_radius_auth_fast.sql.

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
      FROM ip_leases l JOIN ip_pools p ON p.id = l.pool_id + 0
     WHERE l.subaccount_id = p_subaccount_id AND l.pool_id + 0 = ANY (v_pools)
       AND l.address + 0 BETWEEN p.range_start AND p.range_end
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
               AND l.address + 0 BETWEEN p.range_start AND p.range_end
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

-- A never-leased address, probed one random address at a time. The set-based probe
-- (eight random addresses, anti-joined with ip_leases) let the planner flatten the
-- random() expression into the join, where no index can take it: each probe compared
-- against every lease of the pool (3,000 leases: 3,000 rows read per login, growing with
-- the pool). A probe by constant is one look-up in the (pool, address) key. The rest
-- (the gap walk of a crowded pool, marking a full pool) is as in 202611282300_ip_leases.sql.
CREATE OR REPLACE FUNCTION ebs_pool_hole(p_pool_id integer)
    RETURNS inet LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_start inet;
    v_end inet;
    v_size bigint;
    v_pivot inet;
    v_found inet;
BEGIN
    SELECT p.range_start, p.range_end, (p.range_end - p.range_start) + 1
      INTO v_start, v_end, v_size
      FROM ip_pools p
     WHERE p.id = p_pool_id AND family(p.range_start) = 4
       AND NOT EXISTS (SELECT 1 FROM ip_pools_filled f WHERE f.pool_id = p.id);
    IF v_start IS NULL THEN
        RETURN NULL;
    END IF;
    FOR v_try IN 1..8 LOOP
        v_found := v_start + floor(random() * v_size)::bigint;
        EXIT WHEN NOT EXISTS (SELECT 1 FROM ip_leases l
                               WHERE l.pool_id = p_pool_id AND l.address = v_found);
        v_found := NULL;
    END LOOP;
    IF v_found IS NULL THEN
        v_pivot := v_start + floor(random() * v_size)::bigint;
        v_found := coalesce(ebs_pool_gap(p_pool_id, v_pivot, v_end),
                            ebs_pool_gap(p_pool_id, v_start, v_pivot));
    END IF;
    IF v_found IS NULL THEN
        INSERT INTO ip_pools_filled (pool_id) VALUES (p_pool_id) ON CONFLICT DO NOTHING;
    END IF;
    RETURN v_found;
END $$;
