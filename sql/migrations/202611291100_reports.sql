-- Subscribers by state for the dashboard, without reading 500,000 accounts on every load.
--
-- Every statement that inserts, updates or deletes accounts appends one row of signed
-- deltas (statement-level triggers over the transition tables: a charge tick's update of
-- thousands of balances adds one row, not one per account). Appending never waits on
-- another transaction, unlike one counter row that every payment would lock. The state is
-- the sum of the rows; ebs_account_stats_compact() folds them into one now and then.
CREATE TABLE account_stats_deltas (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    total bigint NOT NULL DEFAULT 0,
    active bigint NOT NULL DEFAULT 0,      -- status active and no block
    blocked bigint NOT NULL DEFAULT 0,     -- blocked by balance or by a limit
    suspended bigint NOT NULL DEFAULT 0,
    debtors bigint NOT NULL DEFAULT 0,     -- balance + credit below zero
    debt numeric(16, 2) NOT NULL DEFAULT 0 -- sum of negative balances (a negative number)
);

CREATE FUNCTION ebs_account_stats_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    source text := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT 1 AS sign, * FROM new_rows'
        WHEN 'DELETE' THEN 'SELECT -1 AS sign, * FROM old_rows'
        ELSE 'SELECT 1 AS sign, * FROM new_rows UNION ALL SELECT -1, * FROM old_rows' END;
BEGIN
    EXECUTE format(
        $q$
        INSERT INTO account_stats_deltas (total, active, blocked, suspended, debtors, debt)
        SELECT * FROM (
            SELECT coalesce(sum(sign), 0) AS total,
                   coalesce(sum(sign) FILTER (WHERE status = 'active' AND NOT blocked_by_balance
                                              AND NOT blocked_by_limit), 0) AS active,
                   coalesce(sum(sign) FILTER (WHERE blocked_by_balance OR blocked_by_limit), 0)
                       AS blocked,
                   coalesce(sum(sign) FILTER (WHERE status = 'suspended'), 0) AS suspended,
                   coalesce(sum(sign) FILTER (WHERE balance + credit < 0), 0) AS debtors,
                   coalesce(sum(sign * balance) FILTER (WHERE balance < 0), 0) AS debt
              FROM (%s) s
        ) d
        WHERE (total, active, blocked, suspended, debtors, debt) <> (0, 0, 0, 0, 0, 0)
        $q$, source);
    RETURN NULL;
END $$;

CREATE TRIGGER accounts_stats_insert AFTER INSERT ON accounts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_account_stats_track();
CREATE TRIGGER accounts_stats_update AFTER UPDATE ON accounts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_account_stats_track();
CREATE TRIGGER accounts_stats_delete AFTER DELETE ON accounts
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_account_stats_track();

-- The starting point: today's accounts, read once with writers held off.
LOCK TABLE accounts IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO account_stats_deltas (total, active, blocked, suspended, debtors, debt)
SELECT count(*),
       count(*) FILTER (WHERE status = 'active' AND NOT blocked_by_balance AND NOT blocked_by_limit),
       count(*) FILTER (WHERE blocked_by_balance OR blocked_by_limit),
       count(*) FILTER (WHERE status = 'suspended'),
       count(*) FILTER (WHERE balance + credit < 0),
       coalesce(sum(balance) FILTER (WHERE balance < 0), 0)
  FROM accounts;

-- Fold every delta row into one. Rows appended meanwhile by other transactions are not
-- seen by the DELETE and stay for the next fold; two folds at once each fold what they
-- deleted, so nothing is counted twice.
CREATE FUNCTION ebs_account_stats_compact() RETURNS void LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM account_stats_deltas RETURNING *)
    INSERT INTO account_stats_deltas (total, active, blocked, suspended, debtors, debt)
    SELECT sum(total), sum(active), sum(blocked), sum(suspended), sum(debtors), sum(debt)
      FROM gone HAVING count(*) > 0;
$$;

-- Ledger totals for the reports, in 15-minute buckets per kind, source (a payment's
-- gateway, details->>'source') and operator, so a month's report sums a few thousand rows
-- instead of a million entries. 15 minutes divides every timezone offset in use, so the
-- local days of any ISP's TIME_ZONE are whole runs of buckets. Entries are append-only,
-- so only inserts move the totals: one upsert of the statement's groups (a charge tick's
-- chunk is a handful of rows). Two payments through the same gateway in the same quarter
-- of an hour briefly wait for each other's commit on their bucket row.
CREATE TABLE ledger_totals (
    bucket timestamptz NOT NULL,
    kind text NOT NULL REFERENCES ledger_entry_kinds (code),
    source text NOT NULL DEFAULT '',
    staff_user_id integer NOT NULL DEFAULT 0, -- 0: no operator (gateways, the charge tick)
    entries bigint NOT NULL DEFAULT 0,
    amount numeric(16, 2) NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, kind, source, staff_user_id)
);
CREATE INDEX ledger_totals_kind_idx ON ledger_totals (kind, bucket);

CREATE FUNCTION ebs_ledger_bucket(at timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT date_bin('15 minutes', at, timestamptz '2000-01-01 00:00:00+00') $$;

CREATE FUNCTION ebs_ledger_add_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_totals AS t (bucket, kind, source, staff_user_id, entries, amount)
    SELECT ebs_ledger_bucket(effective_at), kind, coalesce(details->>'source', ''),
           coalesce(staff_user_id, 0), count(*), sum(amount)
      FROM new_entries
     GROUP BY 1, 2, 3, 4
     ORDER BY 1, 2, 3, 4  -- one lock order for every writer: no deadlock between two
    ON CONFLICT (bucket, kind, source, staff_user_id) DO UPDATE
       SET entries = t.entries + excluded.entries, amount = t.amount + excluded.amount;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_entries_add_totals AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_ledger_add_totals();

-- The ledger so far, read once with writers held off.
LOCK TABLE ledger_entries IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO ledger_totals (bucket, kind, source, staff_user_id, entries, amount)
SELECT ebs_ledger_bucket(effective_at), kind, coalesce(details->>'source', ''),
       coalesce(staff_user_id, 0), count(*), sum(amount)
  FROM ledger_entries
 GROUP BY 1, 2, 3, 4;

-- Source networks a staff member may log in from: rows for the staff member themselves
-- win; without any, the rows of their roles apply; with none at all, any network.
CREATE TABLE staff_networks (
    id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    user_id integer REFERENCES ab_user (id) ON DELETE CASCADE,
    role_id integer REFERENCES ab_role (id) ON DELETE CASCADE,
    network cidr NOT NULL,
    comment text NOT NULL DEFAULT '',
    CHECK ((user_id IS NULL) <> (role_id IS NULL))
);
CREATE INDEX staff_networks_user_idx ON staff_networks (user_id);
CREATE INDEX staff_networks_role_idx ON staff_networks (role_id);

-- NULL: no list applies (any network); true/false: the address is inside one or not.
CREATE FUNCTION ebs_staff_login_allowed(staff integer, address inet) RETURNS boolean
    LANGUAGE sql STABLE AS $$
    WITH own AS (SELECT network FROM staff_networks WHERE user_id = staff),
         by_role AS (SELECT n.network FROM staff_networks n
                       JOIN ab_user_role ur ON ur.role_id = n.role_id
                      WHERE ur.user_id = staff),
         applying AS (SELECT network FROM own
                      UNION ALL
                      SELECT network FROM by_role WHERE NOT EXISTS (SELECT 1 FROM own))
    SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM applying) THEN NULL
                ELSE EXISTS (SELECT 1 FROM applying WHERE address <<= network) END
$$;
