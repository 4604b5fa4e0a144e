-- A pool and the pools it overflows to, in order; a cycle ends the chain.
-- A SQL-standard body (RETURN / BEGIN ATOMIC) binds its names when it is created, so no
-- search_path applies to it.
CREATE OR REPLACE FUNCTION ebs_pool_chain(p_pool text)
    RETURNS integer[] LANGUAGE sql STABLE
BEGIN ATOMIC
    WITH RECURSIVE chain (id, next_pool_id, depth, seen) AS (
        SELECT p.id, p.next_pool_id, 1, ARRAY[p.id] FROM ip_pools p WHERE p.name = p_pool
        UNION ALL
        SELECT p.id, p.next_pool_id, c.depth + 1, c.seen || p.id
          FROM chain c JOIN ip_pools p ON p.id = c.next_pool_id
         WHERE p.id <> ALL (c.seen) AND c.depth < 32
    )
    SELECT array_agg(id ORDER BY depth) FROM chain;
END;

REVOKE ALL ON FUNCTION ebs_pool_chain(p_pool text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_pool_chain(p_pool text) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
