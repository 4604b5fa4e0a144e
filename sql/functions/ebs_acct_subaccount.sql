-- Accounting with leases and Class: ebs_acct_apply as before (202611232050_accounting.sql
-- explains its rules), plus a last argument, the Class the NAS echoes: its subaccount id
-- wins over the User-Name lookup (a DHCP subscriber's User-Name is a MAC), and Start and
-- Interim confirm / hold the session's lease (ebs_lease_touch). Closing frees it (the
-- trigger above). The signature grows, so the old function goes first.
-- A SQL-standard body (RETURN / BEGIN ATOMIC) binds its names when it is created, so no
-- search_path applies to it; without a SET clause the planner can inline it.
CREATE OR REPLACE FUNCTION ebs_acct_subaccount(p_class text, p_username text)
    RETURNS bigint LANGUAGE sql STABLE
    RETURN coalesce(
        (SELECT s.id FROM subaccounts s WHERE s.id = (ebs_class_ids(p_class)).subaccount_id),
        (SELECT s.id FROM subaccounts s WHERE s.username = p_username));

REVOKE ALL ON FUNCTION ebs_acct_subaccount(p_class text, p_username text) FROM PUBLIC;
