-- Database roles: the owner (who runs this) owns every object; each component logs in
-- with its own role and holds only what it needs. The roles are the cluster's: the set-up
-- creates them (stack/db_roles.py) before any migration (a GRANT to a missing role
-- fails), so this file only grants.
--
--   ebs_web, ebs_worker  the business rules: read and write the tables, but no UPDATE of
--                        accounts.balance, no UPDATE/DELETE of ledger_entries, nothing
--                        on the ledger's totals and kinds beyond reading, no TRUNCATE
--   ebs_radius           FreeRADIUS's rlm_sql: its functions (SECURITY DEFINER) and the
--                        interim-update statement's columns of sessions_open, ip_leases
--   ebs_acct             the accounting drain: ebs_acct_apply, the same interim columns,
--                        its spool positions
--   ebs_flow             nfacctd: INSERT (COPY) into flow_raw
--   ebs_reports          reading, every column but credentials; nothing of the staff's
--                        logins (ab_user, ab_register_user, ab_api_key)
--
-- New tables get web's, worker's and reports' grants by default privileges (below);
-- tests/security/test_db_roles.py holds every table's grants per role, so a new table
-- or column is decided there.
GRANT USAGE ON SCHEMA public TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_flow, ebs_reports;

-- Web and worker.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ebs_web, ebs_worker;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ebs_web, ebs_worker;
REVOKE UPDATE, DELETE ON ledger_entries FROM ebs_web, ebs_worker;
REVOKE INSERT, UPDATE, DELETE ON ledger_totals, ledger_entry_kinds, schema_migrations,
    schema_functions FROM ebs_web, ebs_worker;
-- accounts: every column but the balance (a migration that adds a column to accounts
-- grants UPDATE of it to both; tests/security/test_db_roles.py checks).
REVOKE UPDATE ON accounts FROM ebs_web, ebs_worker;
GRANT UPDATE (id, contract, login, password_hash, status, blocked_by_balance,
              blocked_by_limit, credit, full_name, phone, email, city, street, house, flat,
              comment, created_at) ON accounts TO ebs_web, ebs_worker;

-- FreeRADIUS (accounting.conf's interim-update) and the accounting drain's batch.
GRANT SELECT ON sessions_open, ip_leases TO ebs_radius, ebs_acct;
GRANT UPDATE (updated_at, framed_ip, input_octets, output_octets, session_time,
              interim_interval) ON sessions_open TO ebs_radius, ebs_acct;
GRANT UPDATE (expires_at) ON ip_leases TO ebs_radius, ebs_acct;
GRANT SELECT, INSERT, UPDATE, DELETE ON acct_spool_files TO ebs_acct;

-- nfacctd's COPY.
GRANT INSERT ON flow_raw TO ebs_flow;

-- Reports: every column of every table except credentials (password hashes, sealed
-- CHAP passwords, NAS secrets); the staff's login tables not at all.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ebs_reports;
REVOKE SELECT ON accounts, subaccounts, nas, ab_user, ab_register_user, ab_api_key
    FROM ebs_reports;
GRANT SELECT (id, contract, login, status, blocked_by_balance, blocked_by_limit, balance,
              credit, full_name, phone, email, city, street, house, flat, comment,
              created_at) ON accounts TO ebs_reports;
GRANT SELECT (id, account_id, username, ip_address, mac_address, ip_pool_id, nas_id,
              option82_remote_id, option82_circuit_id, bind_to_mac, bind_to_ip,
              simultaneous_use, allow_at_zero, allow_negative, allow_when_blocked,
              created_at) ON subaccounts TO ebs_reports;
GRANT SELECT (id, name, vendor, ip_address, coa_port, acct_interim_interval, description,
              created_at, updated_at, coa_timeout_ms, coa_attempts, dhcp_ipoe)
    ON nas TO ebs_reports;

-- Tables and sequences the owner creates later (partitions included).
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ebs_web, ebs_worker;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO ebs_web, ebs_worker;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ebs_reports;

-- Balances move only through the ledger's own trigger: the guard's WHEN asks the
-- trigger depth, which no session can set (a custom setting could be). A direct UPDATE
-- runs at depth 0; the ledger's statement trigger (ebs_ledger_apply_balances, SECURITY
-- DEFINER) updates at depth 1. AFTER, not BEFORE: a BEFORE UPDATE row trigger makes
-- PostgreSQL lock every row before its WHEN is looked at; an AFTER row trigger with the
-- same WHEN queues nothing for a posting, and its error still aborts any other statement.
DROP TRIGGER accounts_guard_balance_update ON accounts;
CREATE TRIGGER accounts_guard_balance_update AFTER UPDATE OF balance ON accounts
    FOR EACH ROW
    WHEN (OLD.balance IS DISTINCT FROM NEW.balance AND pg_trigger_depth() = 0)
    EXECUTE FUNCTION ebs_accounts_guard_balance();
