CREATE OR REPLACE FUNCTION ebs_accounts_record_state() RETURNS trigger LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
DECLARE
    who text := coalesce(nullif(current_setting('ebs.actor', true), ''), 'direct');
    staff integer := nullif(current_setting('ebs.staff_user_id', true), '')::integer;
    why text := coalesce(current_setting('ebs.reason', true), '');
    moment timestamptz := coalesce(nullif(current_setting('ebs.changed_at', true), '')::timestamptz,
                                   now());
BEGIN
    INSERT INTO account_status_history
        (account_id, changed_at, what, old_value, new_value, actor, staff_user_id, reason)
    SELECT NEW.id, moment, v.what, v.old_value, v.new_value, who, staff, why
      FROM (VALUES ('status', OLD.status, NEW.status),
                   ('blocked_by_balance', OLD.blocked_by_balance::text, NEW.blocked_by_balance::text),
                   ('blocked_by_limit', OLD.blocked_by_limit::text, NEW.blocked_by_limit::text))
           AS v (what, old_value, new_value)
     WHERE v.old_value IS DISTINCT FROM v.new_value;
    RETURN NULL;
END $$;

REVOKE ALL ON FUNCTION ebs_accounts_record_state() FROM PUBLIC;
