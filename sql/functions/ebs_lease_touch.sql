-- Start or Interim of a session: its lease becomes (or stays) active for the session
-- hold of its interim interval p_hold_seconds (ebs_session_hold).
-- Found by the session key once linked; before that, by the lease id the Class names or,
-- from a NAS that does not echo Class, by the subscriber and the address it reports. A
-- lease taken over by someone else meanwhile (its subaccount changed) is left alone.
-- A login the degraded mode let in while the database was away (its Class names lease
-- 0) holds the address of its last accept: confirmed as above when its lease is still
-- the subscriber's, taken back when it was freed meanwhile.
-- An address a node handed out from its reservation (ebs_radius_reserve) may still be
-- reserved, or released unnamed by the node's restart, when the Start comes: the Class's
-- lease id names that one reservation, so it is confirmed for the Class's subscriber.
CREATE OR REPLACE FUNCTION ebs_lease_touch(
    p_acct_unique_id text, p_lease_id bigint, p_subaccount_id bigint, p_framed_ip inet,
    p_hold_seconds integer
) RETURNS void LANGUAGE plpgsql VOLATILE
    SET search_path = public, pg_temp
    AS $$
DECLARE
    v_expires timestamptz := now() + ebs_session_hold(p_hold_seconds);
BEGIN
    UPDATE ip_leases SET state = 'active', expires_at = v_expires
     WHERE session_key = p_acct_unique_id;
    IF FOUND OR p_subaccount_id IS NULL THEN
        RETURN;
    END IF;
    UPDATE ip_leases
       SET state = 'active', session_key = p_acct_unique_id, expires_at = v_expires,
           subaccount_id = p_subaccount_id, node = NULL
     WHERE id = (SELECT l.id FROM ip_leases l
                  WHERE (l.subaccount_id = p_subaccount_id
                         OR (l.subaccount_id IS NULL AND l.id = p_lease_id
                             AND l.state IN ('reserved', 'offered')))
                    AND CASE WHEN p_lease_id IS NOT NULL THEN l.id = p_lease_id
                             ELSE l.address = p_framed_ip AND l.state <> 'free' END
                    AND (p_framed_ip IS NULL OR l.address = p_framed_ip)
                  ORDER BY l.state = 'offered' DESC, l.leased_at DESC
                  LIMIT 1);
    IF FOUND OR p_lease_id IS NOT NULL OR p_framed_ip IS NULL THEN
        RETURN;
    END IF;
    UPDATE ip_leases
       SET state = 'active', subaccount_id = p_subaccount_id, session_key = p_acct_unique_id,
           leased_at = now(), expires_at = v_expires
     WHERE id = (SELECT l.id FROM ip_leases l
                  WHERE l.address = p_framed_ip AND l.state = 'free'
                  LIMIT 1 FOR UPDATE SKIP LOCKED);
END $$;

REVOKE ALL ON FUNCTION ebs_lease_touch(p_acct_unique_id text, p_lease_id bigint, p_subaccount_id bigint, p_framed_ip inet, p_hold_seconds integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_lease_touch(p_acct_unique_id text, p_lease_id bigint, p_subaccount_id bigint, p_framed_ip inet, p_hold_seconds integer) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
