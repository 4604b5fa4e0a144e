-- account_tariffs' statement triggers keep assignment_totals (see
-- ebs_assignment_totals_apply): INSERT, UPDATE and DELETE each hand over the accounts
-- they touched, the ids whose rows are new, and the rows as they were. SECURITY DEFINER:
-- web and worker, which change assignments, only read the totals.
CREATE OR REPLACE FUNCTION ebs_assignment_totals_track() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM ebs_assignment_totals_apply(
            ARRAY(SELECT DISTINCT account_id FROM new_rows),
            ARRAY(SELECT id FROM new_rows), '{}');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM ebs_assignment_totals_apply(
            ARRAY(SELECT DISTINCT account_id FROM old_rows), '{}',
            ARRAY(SELECT o::account_tariffs FROM old_rows o));
    ELSE
        PERFORM ebs_assignment_totals_apply(
            ARRAY(SELECT account_id FROM new_rows UNION SELECT account_id FROM old_rows),
            ARRAY(SELECT id FROM new_rows),
            ARRAY(SELECT o::account_tariffs FROM old_rows o));
    END IF;
    RETURN NULL;
END $$;

REVOKE ALL ON FUNCTION ebs_assignment_totals_track() FROM PUBLIC;
