-- Nothing but the ledger moves a balance: a stray UPDATE of accounts.balance is refused,
-- and a new account starts at zero. The update trigger's WHEN decides (a change of a
-- balance outside the ledger's own trigger, by the trigger depth no session can set),
-- so reaching this function on UPDATE means refusing.
CREATE OR REPLACE FUNCTION ebs_accounts_guard_balance() RETURNS trigger LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.balance <> 0 THEN
            RAISE EXCEPTION 'a new account starts with balance 0; post a ledger entry instead'
                USING ERRCODE = 'check_violation';
        END IF;
    ELSE
        RAISE EXCEPTION 'accounts.balance changes only through ledger_entries (account %)', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;

REVOKE ALL ON FUNCTION ebs_accounts_guard_balance() FROM PUBLIC;
