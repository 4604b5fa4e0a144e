CREATE OR REPLACE FUNCTION ebs_ledger_accept_kinds() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
DECLARE
    kinds text[] := ARRAY(SELECT DISTINCT kind FROM new_entries);
    known integer;
BEGIN
    PERFORM FROM ledger_entry_kinds WHERE code = ANY (kinds) FOR KEY SHARE;
    GET DIAGNOSTICS known = ROW_COUNT;
    IF known <> cardinality(kinds) THEN
        RAISE EXCEPTION 'unknown ledger entry kind among %', kinds
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

REVOKE ALL ON FUNCTION ebs_ledger_accept_kinds() FROM PUBLIC;
