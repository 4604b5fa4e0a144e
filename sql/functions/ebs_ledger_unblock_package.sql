-- A payment (any entry bringing money) unblocks at once, in the same transaction. Runs
-- after the balance trigger (triggers fire in name order); free when nobody is blocked.
CREATE OR REPLACE FUNCTION ebs_ledger_unblock_package() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM package_blocks) THEN
        PERFORM ebs_package_unblock(
            ARRAY(SELECT DISTINCT account_id FROM new_entries WHERE amount > 0));
    END IF;
    RETURN NULL;
END $$;

REVOKE ALL ON FUNCTION ebs_ledger_unblock_package() FROM PUBLIC;
