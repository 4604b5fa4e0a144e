-- Whether an Interim should renew its session's lease (to now() + ebs_session_hold):
-- only once less than half of the hold is left, so a lease row is written every other
-- interim, not on each (the hottest write of the system stays cheap), and an active
-- lease is never reused while its session is open anyway (ebs_radius_lease checks).
-- Asked by the Interim fast paths: freeradius_conf/mods-config/sql/accounting.conf and
-- the spool drain's batch (stack/acct_spool.py).
CREATE OR REPLACE FUNCTION ebs_lease_renew_due(p_expires_at timestamptz,
                                               p_interim_interval integer) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN p_expires_at < now() + ebs_session_hold(p_interim_interval) / 2;

REVOKE ALL ON FUNCTION ebs_lease_renew_due(p_expires_at timestamptz, p_interim_interval integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_lease_renew_due(p_expires_at timestamptz, p_interim_interval integer) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
