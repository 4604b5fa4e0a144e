CREATE OR REPLACE FUNCTION ebs_ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only: % refused; post a reversal instead', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;

REVOKE ALL ON FUNCTION ebs_ledger_refuse_change() FROM PUBLIC;
