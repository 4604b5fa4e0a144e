-- The subaccount of an Accounting-Request (ebs_acct_apply): the one the Class the NAS
-- echoes names wins over the User-Name lookup (a DHCP subscriber's User-Name is a MAC).
-- A SQL-standard body (RETURN / BEGIN ATOMIC) binds its names when it is created, so no
-- search_path applies to it.
CREATE OR REPLACE FUNCTION ebs_acct_subaccount(p_class text, p_username text)
    RETURNS bigint LANGUAGE sql STABLE
    RETURN coalesce(
        (SELECT s.id FROM subaccounts s WHERE s.id = (ebs_class_ids(p_class)).subaccount_id),
        (SELECT s.id FROM subaccounts s WHERE s.username = p_username));

REVOKE ALL ON FUNCTION ebs_acct_subaccount(p_class text, p_username text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_acct_subaccount(p_class text, p_username text) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
