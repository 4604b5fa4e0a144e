-- IP address leasing, the Class that links accounting to it, and custom reply attributes.
--
-- Leases. FreeRADIUS's rlm_sql calls ebs_radius_lease() once in post-auth (its own
-- parallel pool; the python3 hook never waits on the database), from the pool rlm_ebs
-- chose: the guest pool for a debtor, else the subaccount's pool, else the tariff's;
-- a full pool overflows to its next_pool_id, and so on down the chain.
--
-- ip_leases holds a row for every address ever leased (never one per address of a pool:
-- the seed's pool alone has four million). The row stays when the lease is freed, still
-- naming its last subaccount, so that subscriber gets the same address back while nobody
-- else has taken it (sticky). An address is leasable when it has no row, or its row's
-- expires_at has passed: a freed lease expires at the moment it is freed, an offered one
-- a short while after the Access-Accept unless a Start confirms it, an active one its
-- session's hold after the last word from it (ebs_session_hold, the stale-session rule).
--
-- Two FreeRADIUS nodes on one database never lease one address twice: (pool, address)
-- is unique; an existing row is taken under FOR UPDATE SKIP LOCKED (a row another
-- allocation holds is skipped, and a row it has just taken fails the re-checked
-- expires_at); a never-leased address is inserted with ON CONFLICT DO NOTHING, and a
-- lost race retries on another address. Pools may overlap (NAS-local private ranges):
-- the guarantee is per pool.
--
-- Accounting (ebs_acct_apply, and the Interim fast path in
-- freeradius_conf/mods-config/sql/accounting.conf): Start confirms the lease the
-- Access-Accept's Class names (offered -> active, bound to the session key), an Interim
-- holds it longer, and closing the session frees it: Stop, Accounting-On/Off and the
-- stale-session sweep all delete from sessions_open, and one statement trigger frees
-- the leases of every deleted session.
--
-- The Interim fast paths rewrite expires_at only once less than half of the hold is left
-- (ebs_lease_renew_due), so a lease row is written every other interim, not on each.
--
-- The lease's row searches are kept on their own indexes whatever the statistics say.
-- Both check that the address is still inside its pool's range (a range can shrink).
-- Written plainly (l.address BETWEEN range_start AND range_end), the (pool_id, address)
-- key and the address index could serve that test, and on a young or not yet analysed
-- ip_leases the planner took that path for the look for an expired row; plpgsql kept the
-- plan for the life of rlm_sql's connection, so every login read every lease of the pool
-- (measured: 6,000 rows read to find none, about 4 ms at 6,000 leases, growing with the
-- pool), and the sticky search walked the pool's expiry index the same way. Written as
-- l.address + 0 and l.pool_id + 0 those tests are filters only, so the look for an
-- expired row uses ip_leases_expiry_idx (pool, expiry order: the LIMIT 1 reads
-- one row) and the sticky search ip_leases_subaccount_idx (the subscriber's few rows).
--
-- Few statements: the chain is walked here with each pool's address family in one
-- statement (ebs_pool_chain's walk), the subscriber's sticky lease read in one with
-- simultaneous use inside.
CREATE OR REPLACE FUNCTION ebs_radius_lease(
    p_subaccount_id bigint,
    p_pool text,
    p_nas_ip inet DEFAULT NULL,
    p_offer_seconds integer DEFAULT 60
) RETURNS text LANGUAGE plpgsql VOLATILE
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
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

COMMENT ON FUNCTION ebs_radius_lease(bigint, text, inet, integer) IS
    'Lease an address from a pool chain for one Access-Accept (FreeRADIUS post-auth).';

REVOKE ALL ON FUNCTION ebs_radius_lease(p_subaccount_id bigint, p_pool text, p_nas_ip inet, p_offer_seconds integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_radius_lease(p_subaccount_id bigint, p_pool text, p_nas_ip inet, p_offer_seconds integer) TO ebs_radius;
