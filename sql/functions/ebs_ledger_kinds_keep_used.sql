CREATE OR REPLACE FUNCTION ebs_ledger_kinds_keep_used() RETURNS trigger LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF EXISTS (SELECT 1 FROM ledger_entries) THEN
            RAISE EXCEPTION 'ledger entry kinds are in use: TRUNCATE refused'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM ledger_entries WHERE kind = OLD.code) THEN
        RAISE EXCEPTION 'ledger entry kind % is in use: % refused', OLD.code, TG_OP
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END $$;

REVOKE ALL ON FUNCTION ebs_ledger_kinds_keep_used() FROM PUBLIC;
