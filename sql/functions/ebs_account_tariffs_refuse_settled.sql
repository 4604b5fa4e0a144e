-- An assignment never starts inside time a finished charge tick has settled (at or before
-- the latest finished run's charged_to), and one that started there does not move: the
-- tick never reopens charged time, so such an assignment would charge the old tariff for
-- the new one's time. billing.charging.runs.settled_at is the same rule, refused first
-- with the operator's words by billing.tariff_change. Statement-level over the transition
-- table: a bulk change of 10,000 accounts asks charge_runs once, and accounts only when
-- something lies inside the settled time.
CREATE OR REPLACE FUNCTION ebs_account_tariffs_refuse_settled() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
DECLARE
    settled timestamptz;
    earliest timestamptz;
BEGIN
    SELECT max(charged_to) INTO settled FROM charge_runs WHERE finished_at IS NOT NULL;
    IF settled IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        -- An account this very transaction created has no charged time yet: a history
        -- import (ebs seed) brings its assignments, and their charges, along with it.
        SELECT min(n.assigned_at) INTO earliest
          FROM new_rows n JOIN accounts a ON a.id = n.account_id
         WHERE n.assigned_at <= settled AND a.xmin IS DISTINCT FROM pg_current_xact_id()::xid;
    ELSE
        SELECT min(least(o.assigned_at, n.assigned_at)) INTO earliest
          FROM old_rows o JOIN new_rows n ON n.id = o.id
         WHERE (o.account_id, o.tariff_id, o.assigned_at)
               IS DISTINCT FROM (n.account_id, n.tariff_id, n.assigned_at);
    END IF;
    IF earliest <= settled THEN
        RAISE EXCEPTION 'an assignment cannot start inside time already charged: % is not after %',
                        earliest, settled
            USING ERRCODE = 'check_violation',
                  HINT = 'Let the change take effect after the last finished charge tick.';
    END IF;
    RETURN NULL;
END $$;

REVOKE ALL ON FUNCTION ebs_account_tariffs_refuse_settled() FROM PUBLIC;
