-- Does a lease row name the subaccount? (ebs_radius_check's 'stk': such a login leases
-- through ebs_radius_lease, which gives its address back, not from a node's reserved
-- addresses.) A function of its own for one planner setting: plpgsql keeps a statement's
-- plan for the life of rlm_sql's connection, and one made while ip_leases was small (a
-- fresh install, a test) is a sequential scan, which reads the whole table on every login
-- as it grows until an ANALYZE comes (ebs bench radius-auth: 0.4 ms of PostgreSQL per
-- login at 17,000 leases). With enable_seqscan off the plan is the subaccount index's.
CREATE OR REPLACE FUNCTION ebs_subaccount_has_lease(p_subaccount_id bigint)
    RETURNS boolean LANGUAGE plpgsql STABLE
    SET search_path = public, pg_temp
    SET enable_seqscan = off
    AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM ip_leases l WHERE l.subaccount_id = p_subaccount_id);
END $$;

REVOKE ALL ON FUNCTION ebs_subaccount_has_lease(p_subaccount_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_subaccount_has_lease(p_subaccount_id bigint) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
