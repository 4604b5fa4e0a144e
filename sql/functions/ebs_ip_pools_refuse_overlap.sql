-- No address belongs to two pools: each pool's leases are kept apart, so a shared address
-- would be leased twice. A pool's ends share a family (a CHECK) and inet orders every IPv4
-- address before every IPv6 one, so comparing the ends is the overlap test.
-- billing.ip_pools.check_pool_range is the same rule, asked first by the admin's form. An
-- advisory lock makes pool changes take turns: two transactions each adding one of two
-- overlapping pools would otherwise both pass, neither seeing the other's row.
CREATE OR REPLACE FUNCTION ebs_ip_pools_refuse_overlap() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
DECLARE
    other record;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ebs_ip_pools_refuse_overlap'));
    SELECT p.name, p.range_start, p.range_end INTO other
      FROM ip_pools p
     WHERE p.id <> NEW.id AND p.range_start <= NEW.range_end AND p.range_end >= NEW.range_start
     ORDER BY p.range_start
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'pool % (% – %) overlaps pool % (% – %)',
                        NEW.name, host(NEW.range_start), host(NEW.range_end),
                        other.name, host(other.range_start), host(other.range_end)
            USING ERRCODE = 'exclusion_violation';
    END IF;
    RETURN NULL;
END $$;

REVOKE ALL ON FUNCTION ebs_ip_pools_refuse_overlap() FROM PUBLIC;
