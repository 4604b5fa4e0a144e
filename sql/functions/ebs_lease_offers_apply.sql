-- The offers the answer spool carries (stack/auth_spool.py): each Access-Accept a node
-- gave from a reserved address (ebs_radius_reserve) becomes the offered lease it is in
-- "live" mode, dated from the accept: its subscriber, its NAS, expiring p_offer_seconds
-- after the accept unless a Start confirms it. Only a row still reserved is touched: a
-- Start that came first made it active already, and a row released and reserved again
-- has a new id. Applying a file twice changes nothing the second time.
CREATE OR REPLACE FUNCTION ebs_lease_offers_apply(
    p_lease_id bigint[],
    p_subaccount_id bigint[],
    p_nas_ip inet[],
    p_offered_at timestamptz[],
    p_offer_seconds integer DEFAULT 60
) RETURNS integer LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
DECLARE
    v_rows integer;
BEGIN
    UPDATE ip_leases l
       SET state = 'offered', node = NULL, subaccount_id = o.subaccount_id,
           nas_ip = o.nas_ip, leased_at = o.offered_at,
           expires_at = o.offered_at + make_interval(secs => greatest(p_offer_seconds, 1))
      FROM unnest(p_lease_id, p_subaccount_id, p_nas_ip, p_offered_at)
               AS o (lease_id, subaccount_id, nas_ip, offered_at)
     WHERE l.id = o.lease_id AND l.state = 'reserved'
       AND EXISTS (SELECT 1 FROM subaccounts sa WHERE sa.id = o.subaccount_id);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END $$;

REVOKE ALL ON FUNCTION ebs_lease_offers_apply(p_lease_id bigint[], p_subaccount_id bigint[], p_nas_ip inet[], p_offered_at timestamp with time zone[], p_offer_seconds integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_lease_offers_apply(p_lease_id bigint[], p_subaccount_id bigint[], p_nas_ip inet[], p_offered_at timestamp with time zone[], p_offer_seconds integer) TO ebs_acct;
