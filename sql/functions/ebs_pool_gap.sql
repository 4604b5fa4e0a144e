-- Plans kept per connection instead of made per call (ebs_pool_hole calls it when a pool
-- is crowded).
-- enable_seqscan off for the reason ebs_subaccount_has_lease.sql gives.
CREATE OR REPLACE FUNCTION ebs_pool_gap(p_pool_id integer, p_from inet, p_to inet)
    RETURNS inet LANGUAGE plpgsql STABLE
    SET search_path = public, pg_temp
    SET enable_seqscan = off
    AS $$
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

REVOKE ALL ON FUNCTION ebs_pool_gap(p_pool_id integer, p_from inet, p_to inet) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_pool_gap(p_pool_id integer, p_from inet, p_to inet) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
