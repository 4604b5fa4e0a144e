-- Nothing but the ledger moves a balance: a stray UPDATE of accounts.balance is refused,
-- and a new account starts at zero.
CREATE OR REPLACE FUNCTION ebs_accounts_guard_balance() RETURNS trigger LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.balance <> 0 THEN
            RAISE EXCEPTION 'a new account starts with balance 0; post a ledger entry instead'
                USING ERRCODE = 'check_violation';
        END IF;
    ELSIF coalesce(current_setting('ebs.ledger_posting', true), 'off') <> 'on' THEN
        RAISE EXCEPTION 'accounts.balance changes only through ledger_entries (account %)', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;

REVOKE ALL ON FUNCTION ebs_accounts_guard_balance() FROM PUBLIC;
