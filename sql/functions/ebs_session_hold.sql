-- How long a session, and the address leased to it, are held after the last word from
-- it: three interim intervals, at least 60 s each (the nas table's lower bound on
-- Acct-Interim-Interval). Past it the session is presumed dead: the stale-session sweep
-- (billing/sessions.py) closes it, the live-session count of ebs_radius_check no longer
-- counts it, and its lease may go to someone else. Each Interim renews the lease for this
-- long (ebs_lease_touch; the Interim fast paths ask ebs_lease_renew_due first).
-- billing/access.py's session_hold() is its Python twin (a test holds them equal).
-- A SQL-standard body without a SET clause: the planner inlines it into the hot queries.
CREATE OR REPLACE FUNCTION ebs_session_hold(p_interim_interval integer) RETURNS interval
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN make_interval(secs => 3 * greatest(p_interim_interval, 60));

REVOKE ALL ON FUNCTION ebs_session_hold(p_interim_interval integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_session_hold(p_interim_interval integer) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
