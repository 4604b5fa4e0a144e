-- Account state history, self-suspension and package cost (require / fill-up).
-- The tariff flags (package_cost, require_package_cost, fill_up_to_package_cost,
-- allow_self_suspension, suspension_cost, suspension_min_balance, suspension_max_days)
-- already live in tariffs; this adds what the rules record.

-- Every change of an account's status or blocks: who, when, from, to, why. A trigger
-- writes it, so a change made by any path (the cabinet, the admin, a tick, plain SQL) is
-- recorded; the path tells who and why through transaction-local settings
-- (billing.accounts.record_actor). A change nobody described is recorded as 'direct'.
CREATE TABLE account_status_history (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    changed_at timestamptz NOT NULL,
    what text NOT NULL CHECK (what IN ('status', 'blocked_by_balance', 'blocked_by_limit')),
    old_value text NOT NULL,
    new_value text NOT NULL,
    actor text NOT NULL CHECK (actor IN ('subscriber', 'staff', 'system', 'direct')),
    staff_user_id integer REFERENCES ab_user (id),
    reason text NOT NULL DEFAULT '',
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_status_history_account_idx ON account_status_history (account_id, changed_at);

CREATE FUNCTION ebs_accounts_record_state() RETURNS trigger LANGUAGE plpgsql AS $$
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
-- A column list keeps the trigger off the ledger's balance updates entirely.
CREATE TRIGGER accounts_record_state AFTER UPDATE OF status, blocked_by_balance, blocked_by_limit
    ON accounts FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.blocked_by_balance IS DISTINCT FROM NEW.blocked_by_balance
          OR OLD.blocked_by_limit IS DISTINCT FROM NEW.blocked_by_limit)
    EXECUTE FUNCTION ebs_accounts_record_state();

-- Self-suspensions. While one runs (ended_at NULL) the account's status is 'suspended';
-- periodic charges skip [starts_at, ended_at) exactly (billing.suspension.cut_spans).
-- planned_until is the tariff's maximum: the charge tick ends the suspension there.
CREATE TABLE account_suspensions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    tariff_id integer REFERENCES tariffs (id),
    starts_at timestamptz NOT NULL,
    planned_until timestamptz,
    ended_at timestamptz,
    end_reason text CHECK (end_reason IN ('max_days', 'requested')),
    cost numeric(14, 2) NOT NULL DEFAULT 0 CHECK (cost >= 0),
    requested_by text NOT NULL CHECK (requested_by IN ('subscriber', 'staff')),
    staff_user_id integer REFERENCES ab_user (id),
    ended_by_staff_id integer REFERENCES ab_user (id),
    reason text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (planned_until IS NULL OR planned_until > starts_at),
    CHECK (ended_at IS NULL OR ended_at >= starts_at),
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);
-- One running suspension per account, enforced by the database.
CREATE UNIQUE INDEX account_suspensions_running_idx ON account_suspensions (account_id)
    WHERE ended_at IS NULL;
CREATE INDEX account_suspensions_account_idx ON account_suspensions (account_id, starts_at);
CREATE INDEX account_suspensions_due_idx ON account_suspensions (planned_until)
    WHERE ended_at IS NULL;

-- Accounts checked for "require package cost" whose period is not covered yet: one row
-- per account, the period and the sum it must cover. blocked_by_balance is set while the
-- row exists; the row goes (and the block with it) once the money is there.
CREATE TABLE package_blocks (
    account_id bigint PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    assignment_id bigint NOT NULL REFERENCES account_tariffs (id) ON DELETE CASCADE,
    period_start timestamptz NOT NULL,
    required numeric(14, 2) NOT NULL CHECK (required > 0),
    blocked_at timestamptz NOT NULL
);

-- Is the period's package cost covered? The money available now plus what the period's
-- periodic charges of the assignment already took, net of returned parts (charged
-- toward the package, so they count as paid).
CREATE FUNCTION ebs_package_covered(acc bigint, assignment bigint, period_start timestamptz,
                                    required numeric)
    RETURNS boolean LANGUAGE sql STABLE AS $$
        SELECT a.balance + a.credit - coalesce((
                   SELECT sum(e.amount) FROM ledger_entries e
                    WHERE e.account_id = acc
                      AND e.kind IN ('charge_periodic', 'refund_periodic')
                      AND e.effective_at >= period_start
                      AND (e.details->>'assignment_id')::bigint = assignment
                      AND (e.details->>'period_start')::timestamptz >= period_start), 0)
               >= required
          FROM accounts a WHERE a.id = acc
    $$;

-- Unblock every account (of ids; NULL = all) whose pending package cost is now covered.
-- Set-based; the ledger calls it after each posting that brings money, the tick each run.
CREATE FUNCTION ebs_package_unblock(ids bigint[] DEFAULT NULL) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
    unblocked integer;
    saved_actor text := coalesce(current_setting('ebs.actor', true), '');
    saved_staff text := coalesce(current_setting('ebs.staff_user_id', true), '');
    saved_reason text := coalesce(current_setting('ebs.reason', true), '');
BEGIN
    PERFORM set_config('ebs.actor', 'system', true),
            set_config('ebs.staff_user_id', '', true),
            set_config('ebs.reason', 'package cost covered', true);
    WITH covered AS (
        DELETE FROM package_blocks b
         WHERE (ids IS NULL OR b.account_id = ANY (ids))
           AND ebs_package_covered(b.account_id, b.assignment_id, b.period_start, b.required)
        RETURNING b.account_id
    )
    UPDATE accounts a SET blocked_by_balance = false
      FROM covered c
     WHERE a.id = c.account_id AND a.blocked_by_balance;
    GET DIAGNOSTICS unblocked = ROW_COUNT;
    PERFORM set_config('ebs.actor', saved_actor, true),
            set_config('ebs.staff_user_id', saved_staff, true),
            set_config('ebs.reason', saved_reason, true);
    RETURN unblocked;
END $$;

-- A payment (any entry bringing money) unblocks at once, in the same transaction. Runs
-- after the balance trigger (triggers fire in name order); free when nobody is blocked.
CREATE FUNCTION ebs_ledger_unblock_package() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM package_blocks) THEN
        PERFORM ebs_package_unblock(
            ARRAY(SELECT DISTINCT account_id FROM new_entries WHERE amount > 0));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_entries_unblock_package AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_ledger_unblock_package();
