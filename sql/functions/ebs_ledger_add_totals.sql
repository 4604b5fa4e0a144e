CREATE OR REPLACE FUNCTION ebs_ledger_add_totals() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
BEGIN
    INSERT INTO ledger_totals (bucket, kind, source, staff_user_id, entries, amount)
    SELECT ebs_ledger_bucket(effective_at), kind, coalesce(details->>'source', ''),
           coalesce(staff_user_id, 0), count(*), sum(amount)
      FROM new_entries
     GROUP BY 1, 2, 3, 4;
    RETURN NULL;
END $$;

REVOKE ALL ON FUNCTION ebs_ledger_add_totals() FROM PUBLIC;
