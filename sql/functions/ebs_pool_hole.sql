-- A never-leased address, probed one random address at a time. The set-based probe
-- (eight random addresses, anti-joined with ip_leases) let the planner flatten the
-- random() expression into the join, where no index can take it: each probe compared
-- against every lease of the pool (3,000 leases: 3,000 rows read per login, growing with
-- the pool). A probe by constant is one look-up in the (pool, address) key. When eight
-- probes miss, the pool is crowded: its gaps are walked (ebs_pool_gap) from a random
-- pivot; a pool with none is marked in ip_pools_filled.
-- enable_seqscan off for the reason ebs_subaccount_has_lease.sql gives: the probe's plan is kept
-- for the connection's life and must not stay a scan of the young lease table.
CREATE OR REPLACE FUNCTION ebs_pool_hole(p_pool_id integer)
    RETURNS inet LANGUAGE plpgsql VOLATILE
    SET search_path = public, pg_temp
    SET enable_seqscan = off
    AS $$
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

REVOKE ALL ON FUNCTION ebs_pool_hole(p_pool_id integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_pool_hole(p_pool_id integer) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
