-- Schema v1: the objects of the billing core. Money is numeric(14,2); moments are
-- timestamptz (UTC at rest); calendar maths happens in the ISP's timezone in billing/.

-- Money helpers, twins of billing/money.py (a test holds them against each other).
CREATE FUNCTION ebs_round_money(value numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT round(value, 2) $$;

-- round(cost·done/total) to cents, half away from zero, in exact integer arithmetic, so
-- the result never depends on numeric division's scale.
CREATE FUNCTION ebs_prorate(cost numeric, done bigint, total bigint) RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
        SELECT round(sign(cost) * div(2 * abs(round(cost * 100)) * done + total, 2 * total) / 100, 2)
    $$;

-- The cumulative rule: a piece [done_from, done_to) of total costs the change of the
-- rounded cumulative amount, so any split of a period sums to the cost exactly.
CREATE FUNCTION ebs_prorate_piece(cost numeric, done_from bigint, done_to bigint, total bigint)
    RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT round(ebs_prorate(cost, done_to, total) - ebs_prorate(cost, done_from, total), 2) $$;

CREATE FUNCTION ebs_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

-- Settlement periods: DAY / WEEK / MONTH / YEAR / N seconds, anchored at a fixed start or,
-- with autostart, at each account's tariff assignment.
CREATE TABLE settlement_periods (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    unit text NOT NULL CHECK (unit IN ('DAY', 'WEEK', 'MONTH', 'YEAR', 'SECONDS')),
    length_seconds integer CHECK (length_seconds > 0),
    autostart boolean NOT NULL DEFAULT false,
    anchor timestamptz,
    CHECK ((unit = 'SECONDS') = (length_seconds IS NOT NULL)),
    CHECK (autostart OR anchor IS NOT NULL)
);

-- Time periods: a named set of nodes, each repeating daily/weekly/monthly/yearly or never.
CREATE TABLE time_periods (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE
);

CREATE TABLE time_period_nodes (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time_period_id integer NOT NULL REFERENCES time_periods (id) ON DELETE CASCADE,
    name text NOT NULL DEFAULT '',
    starts_at timestamptz NOT NULL,
    length interval NOT NULL CHECK (length > interval '0'),
    repeat text NOT NULL CHECK (repeat IN ('DAY', 'WEEK', 'MONTH', 'YEAR', 'NEVER'))
);
CREATE INDEX time_period_nodes_period_idx ON time_period_nodes (time_period_id);

-- IP pools; next_pool_id is where leasing overflows when this pool is full.
CREATE TABLE ip_pools (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    kind text NOT NULL DEFAULT 'ipv4_vpn' CHECK (kind IN ('ipv4_vpn', 'ipv4_ipn', 'ipv6_prefix')),
    range_start inet NOT NULL,
    range_end inet NOT NULL,
    next_pool_id integer REFERENCES ip_pools (id) ON DELETE SET NULL,
    CHECK (family(range_start) = family(range_end) AND range_start <= range_end),
    CHECK (next_pool_id IS DISTINCT FROM id)
);

CREATE TABLE nas (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    vendor text NOT NULL DEFAULT 'mikrotik'
        CHECK (vendor IN ('mikrotik', 'cisco', 'juniper', 'accel-ppp', 'other')),
    ip_address inet NOT NULL UNIQUE,
    secret text NOT NULL CHECK (length(secret) >= 6),
    coa_port integer NOT NULL DEFAULT 3799 CHECK (coa_port BETWEEN 1 AND 65535),
    acct_interim_interval integer NOT NULL DEFAULT 300 CHECK (acct_interim_interval >= 60),
    description text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER nas_touch BEFORE UPDATE ON nas
    FOR EACH ROW EXECUTE FUNCTION ebs_touch_updated_at();

CREATE TABLE tariffs (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    description text NOT NULL DEFAULT '',
    active boolean NOT NULL DEFAULT true,
    access_type text NOT NULL DEFAULT 'pppoe'
        CHECK (access_type IN ('pppoe', 'pptp', 'l2tp', 'hotspot', 'dhcp', 'ipoe')),
    chap_enabled boolean NOT NULL DEFAULT false,
    settlement_period_id integer REFERENCES settlement_periods (id),
    access_time_period_id integer REFERENCES time_periods (id),
    package_cost numeric(14, 2) NOT NULL DEFAULT 0 CHECK (package_cost >= 0),
    require_package_cost boolean NOT NULL DEFAULT false,
    fill_up_to_package_cost boolean NOT NULL DEFAULT false,
    ip_pool_id integer REFERENCES ip_pools (id),
    guest_pool_id integer REFERENCES ip_pools (id),
    allow_express_cards boolean NOT NULL DEFAULT false,
    allow_balance_transfer boolean NOT NULL DEFAULT false,
    allow_self_suspension boolean NOT NULL DEFAULT false,
    suspension_cost numeric(14, 2) NOT NULL DEFAULT 0 CHECK (suspension_cost >= 0),
    suspension_min_balance numeric(14, 2) NOT NULL DEFAULT 0,
    suspension_max_days integer CHECK (suspension_max_days > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT (require_package_cost OR fill_up_to_package_cost) OR settlement_period_id IS NOT NULL)
);

CREATE TABLE periodic_services (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tariff_id integer NOT NULL REFERENCES tariffs (id) ON DELETE CASCADE,
    name text NOT NULL,
    settlement_period_id integer NOT NULL REFERENCES settlement_periods (id),
    cost numeric(14, 2) NOT NULL CHECK (cost >= 0),
    charge_method text NOT NULL CHECK (charge_method IN ('AT_START', 'AT_END', 'GRADUAL')),
    charges_per_day integer NOT NULL DEFAULT 1 CHECK (charges_per_day BETWEEN 1 AND 1440),
    condition text NOT NULL DEFAULT 'ALWAYS'
        CHECK (condition IN ('ALWAYS', 'LT', 'LE', 'EQ', 'GE', 'GT')),
    condition_sum numeric(14, 2) NOT NULL DEFAULT 0,
    prorate_from_condition boolean NOT NULL DEFAULT false,
    active_from timestamptz,
    active_until timestamptz,
    CHECK (active_until IS NULL OR active_from IS NULL OR active_from < active_until)
);
CREATE INDEX periodic_services_tariff_idx ON periodic_services (tariff_id);

CREATE TABLE onetime_services (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tariff_id integer NOT NULL REFERENCES tariffs (id) ON DELETE CASCADE,
    name text NOT NULL,
    cost numeric(14, 2) NOT NULL CHECK (cost >= 0)
);
CREATE INDEX onetime_services_tariff_idx ON onetime_services (tariff_id);

-- Accounts: the subscriber and the money. status and the two blocks are the one account
-- state model of DESIGN.md; balance moves only through ledger_entries (see below).
CREATE TABLE accounts (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    contract text NOT NULL UNIQUE CHECK (contract <> ''),
    login text NOT NULL UNIQUE CHECK (login <> ''),
    password_hash text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'inactive_charged', 'inactive_uncharged', 'suspended')),
    blocked_by_balance boolean NOT NULL DEFAULT false,
    blocked_by_limit boolean NOT NULL DEFAULT false,
    balance numeric(14, 2) NOT NULL DEFAULT 0,
    credit numeric(14, 2) NOT NULL DEFAULT 0 CHECK (credit >= 0),
    full_name text NOT NULL DEFAULT '',
    phone text NOT NULL DEFAULT '',
    email text NOT NULL DEFAULT '',
    city text NOT NULL DEFAULT '',
    street text NOT NULL DEFAULT '',
    house text NOT NULL DEFAULT '',
    flat text NOT NULL DEFAULT '',
    comment text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accounts_phone_idx ON accounts (phone) WHERE phone <> '';
CREATE INDEX accounts_full_name_idx ON accounts (lower(full_name) text_pattern_ops);

-- Which tariff an account is on, from when. The row's id is "the tariff assignment" that
-- autostart periods and one-time charges are keyed by; a future assigned_at is a
-- scheduled change.
CREATE TABLE account_tariffs (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    tariff_id integer NOT NULL REFERENCES tariffs (id),
    assigned_at timestamptz NOT NULL,
    UNIQUE (account_id, assigned_at)
);
CREATE INDEX account_tariffs_tariff_idx ON account_tariffs (tariff_id);

-- Network credentials of an account: PPP/HotSpot login, MAC, IP, DHCP option 82, and
-- the per-subaccount overrides of the balance rules.
CREATE TABLE subaccounts (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    username text UNIQUE CHECK (username <> ''),
    nt_password_hash text,
    chap_password_encrypted bytea,
    ip_address inet,
    mac_address macaddr,
    ip_pool_id integer REFERENCES ip_pools (id),
    nas_id integer REFERENCES nas (id),
    option82_remote_id text,
    option82_circuit_id text,
    bind_to_mac boolean NOT NULL DEFAULT false,
    bind_to_ip boolean NOT NULL DEFAULT false,
    simultaneous_use integer NOT NULL DEFAULT 1 CHECK (simultaneous_use >= 1),
    allow_at_zero boolean NOT NULL DEFAULT false,
    allow_negative boolean NOT NULL DEFAULT false,
    allow_when_blocked boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subaccounts_account_idx ON subaccounts (account_id);
CREATE UNIQUE INDEX subaccounts_ip_idx ON subaccounts (ip_address) WHERE ip_address IS NOT NULL;
CREATE UNIQUE INDEX subaccounts_mac_idx ON subaccounts (mac_address) WHERE mac_address IS NOT NULL;
CREATE UNIQUE INDEX subaccounts_option82_idx ON subaccounts (option82_remote_id, option82_circuit_id)
    WHERE option82_remote_id IS NOT NULL;

-- Open sessions: small, unpartitioned, keyed by FreeRADIUS's Acct-Unique-Session-Id so
-- Start, Interim and Stop in any order find one row.
CREATE TABLE sessions_open (
    acct_unique_id text PRIMARY KEY,
    acct_session_id text NOT NULL,
    subaccount_id bigint REFERENCES subaccounts (id) ON DELETE SET NULL,
    account_id bigint REFERENCES accounts (id) ON DELETE SET NULL,
    nas_id integer REFERENCES nas (id) ON DELETE SET NULL,
    nas_ip inet NOT NULL,
    username text NOT NULL DEFAULT '',
    framed_ip inet,
    calling_station_id text NOT NULL DEFAULT '',
    called_station_id text NOT NULL DEFAULT '',
    nas_port_id text NOT NULL DEFAULT '',
    started_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    input_octets bigint NOT NULL DEFAULT 0 CHECK (input_octets >= 0),
    output_octets bigint NOT NULL DEFAULT 0 CHECK (output_octets >= 0),
    session_time integer NOT NULL DEFAULT 0 CHECK (session_time >= 0),
    interim_interval integer NOT NULL DEFAULT 300
);
CREATE INDEX sessions_open_account_idx ON sessions_open (account_id);
CREATE INDEX sessions_open_nas_idx ON sessions_open (nas_id);
CREATE INDEX sessions_open_updated_idx ON sessions_open (updated_at);

-- Closed sessions, partitioned by the month they stopped; the partition key is part of
-- every unique key, as PostgreSQL requires.
CREATE TABLE sessions_history (
    acct_unique_id text NOT NULL,
    acct_session_id text NOT NULL,
    subaccount_id bigint,
    account_id bigint,
    nas_id integer,
    nas_ip inet NOT NULL,
    username text NOT NULL DEFAULT '',
    framed_ip inet,
    calling_station_id text NOT NULL DEFAULT '',
    called_station_id text NOT NULL DEFAULT '',
    nas_port_id text NOT NULL DEFAULT '',
    started_at timestamptz NOT NULL,
    stopped_at timestamptz NOT NULL,
    input_octets bigint NOT NULL DEFAULT 0,
    output_octets bigint NOT NULL DEFAULT 0,
    session_time integer NOT NULL DEFAULT 0,
    terminate_cause text NOT NULL DEFAULT '',
    PRIMARY KEY (acct_unique_id, stopped_at)
) PARTITION BY RANGE (stopped_at);
CREATE INDEX sessions_history_account_idx ON sessions_history (account_id, stopped_at);
CREATE TABLE sessions_history_default PARTITION OF sessions_history DEFAULT;

-- Monthly partitions (UTC months) for [from_ts, to_ts); existing ones are left alone.
CREATE FUNCTION ebs_ensure_month_partitions(parent regclass, from_ts timestamptz, to_ts timestamptz)
    RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    month_start timestamptz := date_trunc('month', from_ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    part_name text;
    created integer := 0;
BEGIN
    WHILE month_start < to_ts LOOP
        part_name := format('%s_%s', parent::text, to_char(month_start AT TIME ZONE 'UTC', 'YYYYMM'));
        IF to_regclass(part_name) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                           part_name, parent, month_start,
                           (month_start AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC');
            created := created + 1;
        END IF;
        month_start := (month_start AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC';
    END LOOP;
    RETURN created;
END $$;

SELECT ebs_ensure_month_partitions('sessions_history', now() - interval '1 month', now() + interval '3 months');

-- The ledger. Kinds are rows, not an enum, so later features add theirs with an INSERT.
CREATE TABLE ledger_entry_kinds (
    code text PRIMARY KEY,
    title_en text NOT NULL,
    title_ru text NOT NULL
);
INSERT INTO ledger_entry_kinds (code, title_en, title_ru) VALUES
    ('payment', 'Payment', 'Платёж'),
    ('correction', 'Manual correction', 'Ручная корректировка'),
    ('reversal', 'Reversal', 'Сторно'),
    ('charge_periodic', 'Periodic service', 'Периодическая услуга'),
    ('charge_onetime', 'One-time service', 'Разовая услуга'),
    ('charge_fill_up', 'Fill-up to package cost', 'Доснятие до стоимости пакета'),
    ('charge_traffic', 'Traffic', 'Трафик'),
    ('charge_time', 'Time', 'Время'),
    ('charge_suspension', 'Suspension', 'Блокировка'),
    ('charge_tariff_change', 'Tariff change', 'Смена тарифа'),
    ('promised_payment', 'Promised payment', 'Обещанный платёж'),
    ('promised_payment_close', 'Promised payment closed', 'Закрытие обещанного платежа'),
    ('transfer', 'Balance transfer', 'Перевод баланса');

-- Append-only: amount is signed (+ credit, − debit); idempotency_key makes every posting
-- safe to retry; a reversal is a new entry pointing at the one it cancels.
CREATE TABLE ledger_entries (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id),
    kind text NOT NULL REFERENCES ledger_entry_kinds (code),
    amount numeric(14, 2) NOT NULL CHECK (amount <> 0),
    idempotency_key text NOT NULL UNIQUE CHECK (idempotency_key <> ''),
    effective_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    staff_user_id integer REFERENCES ab_user (id),
    reverses_id bigint UNIQUE REFERENCES ledger_entries (id),
    description text NOT NULL DEFAULT '',
    details jsonb NOT NULL DEFAULT '{}',
    CHECK ((kind = 'reversal') = (reverses_id IS NOT NULL))
);
CREATE INDEX ledger_entries_account_idx ON ledger_entries (account_id, effective_at);
CREATE INDEX ledger_entries_effective_idx ON ledger_entries (effective_at);
CREATE INDEX ledger_entries_kind_idx ON ledger_entries (kind, effective_at);
CREATE INDEX ledger_entries_staff_idx ON ledger_entries (staff_user_id, effective_at)
    WHERE staff_user_id IS NOT NULL;

CREATE FUNCTION ebs_ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only: % refused; post a reversal instead', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ebs_ledger_refuse_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_ledger_refuse_change();

-- Balances follow the ledger in the same statement: one set-based UPDATE per INSERT or
-- COPY, however many entries it brings (a charge tick of 500k rows is one update).
CREATE FUNCTION ebs_ledger_apply_balances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('ebs.ledger_posting', 'on', true);
    UPDATE accounts a
       SET balance = a.balance + s.total
      FROM (SELECT account_id, sum(amount) AS total FROM new_entries GROUP BY account_id) s
     WHERE a.id = s.account_id;
    PERFORM set_config('ebs.ledger_posting', 'off', true);
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_entries_apply_balances AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_ledger_apply_balances();

-- Nothing but the ledger moves a balance: a stray UPDATE of accounts.balance is refused,
-- and a new account starts at zero.
CREATE FUNCTION ebs_accounts_guard_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.balance <> 0 THEN
            RAISE EXCEPTION 'a new account starts with balance 0; post a ledger entry instead'
                USING ERRCODE = 'check_violation';
        END IF;
    ELSIF coalesce(current_setting('ebs.ledger_posting', true), 'off') <> 'on' THEN
        RAISE EXCEPTION 'accounts.balance changes only through ledger_entries (account %)', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER accounts_guard_balance_insert BEFORE INSERT ON accounts
    FOR EACH ROW WHEN (NEW.balance <> 0) EXECUTE FUNCTION ebs_accounts_guard_balance();
CREATE TRIGGER accounts_guard_balance_update BEFORE UPDATE OF balance ON accounts
    FOR EACH ROW WHEN (OLD.balance IS DISTINCT FROM NEW.balance)
    EXECUTE FUNCTION ebs_accounts_guard_balance();
