-- An account with entries keeps its row and its id: what the foreign key refused (delete,
-- change of id, truncate) stays refused. The id check runs AFTER, like the balance guard
-- (accounts_guard_balance_update), so that no BEFORE UPDATE row trigger makes every update lock its row first.
CREATE OR REPLACE FUNCTION ebs_accounts_keep_ledger() RETURNS trigger LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF EXISTS (SELECT 1 FROM ledger_entries) THEN
            RAISE EXCEPTION 'accounts has ledger entries: TRUNCATE refused'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM ledger_entries WHERE account_id = OLD.id) THEN
        RAISE EXCEPTION 'account % has ledger entries: % refused', OLD.id, TG_OP
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;

REVOKE ALL ON FUNCTION ebs_accounts_keep_ledger() FROM PUBLIC;
