-- Addresses a FreeRADIUS node hands out from its memory (RADIUS_AUTH_MODE = "spool",
-- rlm_ebs/reservations.py): one statement per few dozen logins instead of a durable
-- lease statement per login.
--
-- A reserved row is state 'reserved', names its node ("<name>/<incarnation>", the
-- incarnation new at each start of the server) and expires in a hundred years, so no other node's
-- search takes it (ebs_radius_lease's look for an expired row, the sticky search, the
-- accounting's). Every reserved row gets a fresh id (id = DEFAULT), so the lease id a
-- login's Class carries names one reservation of one address, never an earlier holder's.
-- The answer spool brings the offer (subscriber, time) to ebs_lease_offers_apply(); a
-- Start that comes first confirms the reserved row by that id (ebs_lease_touch).
--
-- What a node's earlier incarnation held (a crash, a restart) may have been handed out
-- just before it went: released as an offer that expires after p_offer_seconds, as an
-- unconfirmed Access-Accept does, so a session that holds one keeps it by its Start.
--
-- Answers "<id> <address> <id> <address> ..." from the pool and then the pools it
-- overflows to (at most p_count, and short enough for rlm_python3's 1024-byte value),
-- "pool_exhausted", or "nas_pool" (an IPv6 pool the NAS leases itself): the hook then
-- leaves the login to ebs_radius_lease, which answers the same.
-- enable_seqscan off for the reason ebs_subaccount_has_lease.sql gives: its plans outlive the
-- small table they were made on.
CREATE OR REPLACE FUNCTION ebs_radius_reserve(
    p_node text,
    p_pool text,
    p_count integer DEFAULT 32,
    p_offer_seconds integer DEFAULT 60
) RETURNS text LANGUAGE plpgsql VOLATILE
    SECURITY DEFINER SET search_path = public, pg_temp
    SET enable_seqscan = off
    AS $$
DECLARE
    v_name text := split_part(p_node, '/', 1);
    v_left integer := least(greatest(p_count, 1), 32);
    v_out text[] := '{}';
    v_pool record;
    v_row record;
    v_found inet;
    v_next inet;
    v_end inet;
    v_known text;
BEGIN
    IF v_name = '' OR strpos(p_node, '/') = 0 THEN
        RAISE EXCEPTION 'node % is not "<name>/<incarnation>"', p_node;
    END IF;
    -- A new incarnation's first call: what the node held before is released (once).
    SELECT n.incarnation INTO v_known FROM radius_nodes n WHERE n.name = v_name;
    IF v_known IS DISTINCT FROM p_node THEN
        INSERT INTO radius_nodes (name, incarnation) VALUES (v_name, p_node)
        ON CONFLICT (name) DO UPDATE SET incarnation = EXCLUDED.incarnation,
                                         started_at = now();
        UPDATE ip_leases
           SET state = 'offered', node = NULL,
               expires_at = now() + make_interval(secs => greatest(p_offer_seconds, 1))
         WHERE state = 'reserved' AND node <> p_node AND split_part(node, '/', 1) = v_name;
    END IF;

    FOR v_pool IN
        SELECT p.id, family(p.range_start) = 4 AS v4, p.range_start, p.range_end, c.depth
          FROM unnest(ebs_pool_chain(p_pool)) WITH ORDINALITY AS c (id, depth)
          JOIN ip_pools p ON p.id = c.id
         ORDER BY c.depth
    LOOP
        IF v_pool.depth = 1 AND NOT v_pool.v4 THEN
            RETURN 'nas_pool';
        END IF;
        CONTINUE WHEN NOT v_pool.v4;
        -- Freed or expired rows first, longest expired first (ebs_radius_lease's rule).
        FOR v_row IN
            UPDATE ip_leases l
               SET id = DEFAULT, state = 'reserved', node = p_node, subaccount_id = NULL,
                   session_key = NULL, nas_ip = NULL, leased_at = now(),
                   expires_at = now() + interval '100 years'
             WHERE l.id IN (
                    SELECT e.id FROM ip_leases e
                     WHERE e.pool_id = v_pool.id AND e.expires_at <= now()
                       AND e.address + 0 BETWEEN v_pool.range_start AND v_pool.range_end
                       AND (e.state <> 'active' OR NOT EXISTS (
                                SELECT 1 FROM sessions_open o
                                 WHERE o.acct_unique_id = e.session_key))
                     ORDER BY e.expires_at
                     LIMIT v_left
                       FOR UPDATE OF e SKIP LOCKED)
            RETURNING l.id, l.address
        LOOP
            v_out := v_out || (v_row.id || ' ' || host(v_row.address));
            v_left := v_left - 1;
        END LOOP;
        -- Then never-leased addresses: a random one (ebs_pool_hole) and the run of
        -- never-leased ones after it, in one insert; a concurrent allocation that took
        -- one first is skipped by the unique key.
        FOR v_try IN 1..8 LOOP
            EXIT WHEN v_left <= 0;
            v_found := ebs_pool_hole(v_pool.id);
            EXIT WHEN v_found IS NULL;
            -- The next leased address, by the pool's (pool_id, address) key: one probe.
            SELECT l.address INTO v_next
              FROM ip_leases l WHERE l.pool_id = v_pool.id AND l.address > v_found
             ORDER BY l.pool_id, l.address
             LIMIT 1;
            v_end := least(v_found + (v_left - 1), v_pool.range_end,
                           coalesce(v_next - 1, v_pool.range_end));
            FOR v_row IN
                INSERT INTO ip_leases (pool_id, address, state, node, leased_at, expires_at)
                SELECT v_pool.id, v_found + n, 'reserved', p_node, now(), now() + interval '100 years'
                  FROM generate_series(0, v_end - v_found) n
                ON CONFLICT (pool_id, address) DO NOTHING
                RETURNING ip_leases.id, ip_leases.address
            LOOP
                v_out := v_out || (v_row.id || ' ' || host(v_row.address));
                v_left := v_left - 1;
            END LOOP;
        END LOOP;
        EXIT WHEN v_left <= 0;
    END LOOP;

    IF cardinality(v_out) = 0 THEN
        RETURN 'pool_exhausted';
    END IF;
    RETURN array_to_string(v_out, ' ');
END $$;

COMMENT ON FUNCTION ebs_radius_reserve(text, text, integer, integer) IS
    'Reserve addresses of a pool chain for one FreeRADIUS node to hand out from memory.';

REVOKE ALL ON FUNCTION ebs_radius_reserve(p_node text, p_pool text, p_count integer, p_offer_seconds integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_radius_reserve(p_node text, p_pool text, p_count integer, p_offer_seconds integer) TO ebs_radius;
