-- Every way a session closes deletes its sessions_open row (Stop, Accounting-On/Off in
-- ebs_acct_apply, the stale-session sweep in billing/sessions.py): one statement trigger
-- frees their leases, set-based, whoever deleted them.
CREATE OR REPLACE FUNCTION ebs_leases_free_closed() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
BEGIN
    UPDATE ip_leases l
       SET state = 'free', session_key = NULL, expires_at = now()
      FROM closed c
     WHERE l.session_key = c.acct_unique_id;
    RETURN NULL;
END $$;

REVOKE ALL ON FUNCTION ebs_leases_free_closed() FROM PUBLIC;
