-- The schema of release 0.1.0: tables, indexes, triggers and the rows every database
-- starts with, grouped by domain. The functions that triggers, defaults and queries call
-- live one per file in sql/functions/; `ebs db upgrade` creates them before this file
-- runs (billing/schema.py says in which order). Later changes go in new migrations.
-- --------------------------------------------------------------------------------------
-- Staff users and roles
-- --------------------------------------------------------------------------------------
-- Staff users and roles: Flask-AppBuilder 5.3's security tables, created here rather than
-- by FAB's create_all so ledger entries, audit rows and cashier shifts can reference staff
-- by foreign key. Column types follow FAB's models exactly (a test compares them).

CREATE SEQUENCE ab_permission_id_seq;
CREATE TABLE ab_permission (
    id integer NOT NULL DEFAULT nextval('ab_permission_id_seq') PRIMARY KEY,
    name varchar(100) NOT NULL UNIQUE
);

CREATE SEQUENCE ab_view_menu_id_seq;
CREATE TABLE ab_view_menu (
    id integer NOT NULL DEFAULT nextval('ab_view_menu_id_seq') PRIMARY KEY,
    name varchar(250) NOT NULL UNIQUE
);

CREATE SEQUENCE ab_role_id_seq;
CREATE TABLE ab_role (
    id integer NOT NULL DEFAULT nextval('ab_role_id_seq') PRIMARY KEY,
    name varchar(64) NOT NULL UNIQUE
);

CREATE SEQUENCE ab_group_id_seq;
CREATE TABLE ab_group (
    id integer NOT NULL DEFAULT nextval('ab_group_id_seq') PRIMARY KEY,
    name varchar(100) NOT NULL UNIQUE,
    label varchar(150),
    description varchar(512)
);

CREATE SEQUENCE ab_user_id_seq;
CREATE TABLE ab_user (
    id integer NOT NULL DEFAULT nextval('ab_user_id_seq') PRIMARY KEY,
    first_name varchar(64) NOT NULL,
    last_name varchar(64) NOT NULL,
    username varchar(128) NOT NULL UNIQUE,
    password varchar(256),
    active boolean,
    email varchar(320) NOT NULL UNIQUE,
    last_login timestamp without time zone,
    login_count integer,
    fail_login_count integer,
    created_on timestamp without time zone,
    changed_on timestamp without time zone,
    created_by_fk integer REFERENCES ab_user (id),
    changed_by_fk integer REFERENCES ab_user (id)
);

CREATE SEQUENCE ab_register_user_id_seq;
CREATE TABLE ab_register_user (
    id integer NOT NULL DEFAULT nextval('ab_register_user_id_seq') PRIMARY KEY,
    first_name varchar(64) NOT NULL,
    last_name varchar(64) NOT NULL,
    username varchar(128) NOT NULL UNIQUE,
    password varchar(256),
    email varchar(320) NOT NULL UNIQUE,
    registration_date timestamp without time zone,
    registration_hash varchar(256)
);

CREATE SEQUENCE ab_api_key_id_seq;
CREATE TABLE ab_api_key (
    id integer NOT NULL DEFAULT nextval('ab_api_key_id_seq') PRIMARY KEY,
    uuid varchar(36) NOT NULL UNIQUE,
    name varchar(256) NOT NULL,
    key_hash varchar(256) NOT NULL,
    lookup_hash varchar(256) UNIQUE,
    key_prefix varchar(16) NOT NULL,
    user_id integer NOT NULL REFERENCES ab_user (id) ON DELETE CASCADE,
    scopes text,
    active boolean NOT NULL,
    created_on timestamp without time zone,
    expires_on timestamp without time zone,
    revoked_on timestamp without time zone,
    last_used_on timestamp without time zone
);
CREATE UNIQUE INDEX idx_api_key_lookup_hash ON ab_api_key (lookup_hash);
CREATE INDEX idx_api_key_prefix ON ab_api_key (key_prefix);
CREATE INDEX idx_api_key_user_id ON ab_api_key (user_id);

CREATE SEQUENCE ab_group_role_id_seq;
CREATE TABLE ab_group_role (
    id integer NOT NULL DEFAULT nextval('ab_group_role_id_seq') PRIMARY KEY,
    group_id integer REFERENCES ab_group (id) ON DELETE CASCADE,
    role_id integer REFERENCES ab_role (id) ON DELETE CASCADE,
    UNIQUE (group_id, role_id)
);
CREATE INDEX idx_group_role_id ON ab_group_role (role_id);
CREATE INDEX idx_group_id ON ab_group_role (group_id);

CREATE SEQUENCE ab_permission_view_id_seq;
CREATE TABLE ab_permission_view (
    id integer NOT NULL DEFAULT nextval('ab_permission_view_id_seq') PRIMARY KEY,
    permission_id integer NOT NULL REFERENCES ab_permission (id),
    view_menu_id integer NOT NULL REFERENCES ab_view_menu (id),
    UNIQUE (permission_id, view_menu_id)
);
CREATE INDEX idx_permission_id ON ab_permission_view (permission_id);
CREATE INDEX idx_view_menu_id ON ab_permission_view (view_menu_id);

CREATE SEQUENCE ab_user_group_id_seq;
CREATE TABLE ab_user_group (
    id integer NOT NULL DEFAULT nextval('ab_user_group_id_seq') PRIMARY KEY,
    user_id integer REFERENCES ab_user (id) ON DELETE CASCADE,
    group_id integer REFERENCES ab_group (id) ON DELETE CASCADE,
    UNIQUE (user_id, group_id)
);
CREATE INDEX idx_user_group_id ON ab_user_group (group_id);
CREATE INDEX idx_user_id ON ab_user_group (user_id);

CREATE SEQUENCE ab_user_role_id_seq;
CREATE TABLE ab_user_role (
    id integer NOT NULL DEFAULT nextval('ab_user_role_id_seq') PRIMARY KEY,
    user_id integer REFERENCES ab_user (id) ON DELETE CASCADE,
    role_id integer REFERENCES ab_role (id) ON DELETE CASCADE,
    UNIQUE (user_id, role_id)
);

CREATE SEQUENCE ab_permission_view_role_id_seq;
CREATE TABLE ab_permission_view_role (
    id integer NOT NULL DEFAULT nextval('ab_permission_view_role_id_seq') PRIMARY KEY,
    permission_view_id integer REFERENCES ab_permission_view (id) ON DELETE CASCADE,
    role_id integer REFERENCES ab_role (id) ON DELETE CASCADE,
    UNIQUE (permission_view_id, role_id)
);
CREATE INDEX idx_role_id ON ab_permission_view_role (role_id);
CREATE INDEX idx_permission_view_id ON ab_permission_view_role (permission_view_id);

-- The three staff roles; their permissions are granted by the web app's role sync.
INSERT INTO ab_role (name) VALUES ('Admin'), ('Cashier'), ('ReadOnly');

-- --------------------------------------------------------------------------------------
-- The billing core: periods, pools, NAS, tariffs, accounts, sessions, ledger
-- --------------------------------------------------------------------------------------
-- Money is numeric(14,2); moments are timestamptz (UTC at rest); calendar maths happens
-- in the ISP's timezone in billing/.

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
    -- account_id and kind are checked once per statement by triggers, not per row by
    -- foreign keys (see the triggers on accounts and ledger_entry_kinds below).
    account_id bigint NOT NULL,
    kind text NOT NULL,
    amount numeric(14, 2) NOT NULL CHECK (amount <> 0),
    idempotency_key text NOT NULL UNIQUE CHECK (idempotency_key <> ''),
    effective_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    staff_user_id integer REFERENCES ab_user (id),
    reverses_id bigint REFERENCES ledger_entries (id),
    description text NOT NULL DEFAULT '',
    details jsonb NOT NULL DEFAULT '{}',
    CHECK ((kind = 'reversal') = (reverses_id IS NOT NULL))
);
CREATE INDEX ledger_entries_account_idx ON ledger_entries (account_id, effective_at);
-- An entry is reversed at most once. Partial: reverses_id is NULL on every entry but
-- reversals, and a charge tick of 500k entries need not write 500k NULL index entries.
CREATE UNIQUE INDEX ledger_entries_reverses_idx ON ledger_entries (reverses_id)
    WHERE reverses_id IS NOT NULL;
CREATE INDEX ledger_entries_effective_idx ON ledger_entries (effective_at);
CREATE INDEX ledger_entries_kind_idx ON ledger_entries (kind, effective_at);
CREATE INDEX ledger_entries_staff_idx ON ledger_entries (staff_user_id, effective_at)
    WHERE staff_user_id IS NOT NULL;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ebs_ledger_refuse_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_ledger_refuse_change();
CREATE TRIGGER ledger_entries_apply_balances AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_ledger_apply_balances();
CREATE TRIGGER accounts_guard_balance_insert BEFORE INSERT ON accounts
    FOR EACH ROW WHEN (NEW.balance <> 0) EXECUTE FUNCTION ebs_accounts_guard_balance();
-- The balance guard decides in its WHEN clause, so a posting (the ledger's trigger sets
-- ebs.ledger_posting) never calls the function; any other change of a balance reaches it
-- and is refused. AFTER, not BEFORE: a BEFORE UPDATE row trigger makes PostgreSQL lock
-- every row it updates before its WHEN is even looked at (one extra tuple lock and WAL
-- record per balance a charge tick moves); an AFTER row trigger with the same WHEN queues
-- nothing for a posting, and its error still aborts any other statement.
CREATE TRIGGER accounts_guard_balance_update AFTER UPDATE OF balance ON accounts
    FOR EACH ROW
    WHEN (OLD.balance IS DISTINCT FROM NEW.balance
          AND coalesce(current_setting('ebs.ledger_posting', true), 'off') <> 'on')
    EXECUTE FUNCTION ebs_accounts_guard_balance();

-- --------------------------------------------------------------------------------------
-- Traffic: raw flow rows
-- --------------------------------------------------------------------------------------
-- Raw flow rows as nfacctd's PostgreSQL plugin writes them (flow/nfacctd.conf.tmpl):
-- COPY, insert-only, one row per source, destination, protocol and ports per one-minute
-- bin of arrival time. Column names and types are pmacct's for the primitives we
-- aggregate on (src_host, dst_host, proto, src_port, dst_port) with sql_optimize_clauses.
-- No unique key: a collector restarted within a minute writes that bin's key twice, and
-- the rater sums anyway. Partitioned by day on the bin, so rated days go by DROP, not by
-- DELETE; the default partition catches rows for days nobody prepared.
CREATE TABLE flow_raw (
    ip_src inet NOT NULL DEFAULT '0.0.0.0',
    ip_dst inet NOT NULL DEFAULT '0.0.0.0',
    port_src integer NOT NULL DEFAULT 0,
    port_dst integer NOT NULL DEFAULT 0,
    ip_proto smallint NOT NULL DEFAULT 0,
    packets bigint NOT NULL,
    bytes bigint NOT NULL,
    stamp_inserted timestamptz NOT NULL,
    stamp_updated timestamptz
) PARTITION BY RANGE (stamp_inserted);

CREATE TABLE flow_raw_default PARTITION OF flow_raw DEFAULT;

-- Append-only and ordered by time: a BRIN index costs next to nothing to maintain.
CREATE INDEX flow_raw_stamp_inserted ON flow_raw USING brin (stamp_inserted);

-- --------------------------------------------------------------------------------------
-- Tariff speeds
-- --------------------------------------------------------------------------------------
-- A tariff's speeds: one default row (time_period_id NULL) and time-of-day overrides,
-- each a rate limit in MikroTik's text form ("10M/20M 15M/25M 8M/16M 10/10 5 1M/2M",
-- rx = subscriber upload). billing/speeds.py parses it and renders it per NAS vendor;
-- billing.speeds.speed_for picks the override whose node started most recently.
-- The CHECKs catch an empty or badly shaped value at the door; the parser has the last
-- word (priority 1..8, positional parts).
CREATE TABLE tariff_speeds (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tariff_id integer NOT NULL REFERENCES tariffs (id) ON DELETE CASCADE,
    time_period_id integer REFERENCES time_periods (id),
    speed text NOT NULL CHECK (btrim(speed) <> '')
        CHECK (speed ~ '^[0-9.]+[kKMG]?(/[0-9.]+[kKMG]?)?( [0-9.]+[kKMGs]?(/[0-9.]+[kKMGs]?)?){0,5}$')
);
-- One override per (tariff, time period); UNIQUE treats NULLs as distinct, so the single
-- default per tariff needs its own partial index.
CREATE UNIQUE INDEX tariff_speeds_override_idx ON tariff_speeds (tariff_id, time_period_id)
    WHERE time_period_id IS NOT NULL;
CREATE UNIQUE INDEX tariff_speeds_default_idx ON tariff_speeds (tariff_id)
    WHERE time_period_id IS NULL;
CREATE INDEX tariff_speeds_time_period_idx ON tariff_speeds (time_period_id)
    WHERE time_period_id IS NOT NULL;

-- --------------------------------------------------------------------------------------
-- Charging
-- --------------------------------------------------------------------------------------
-- Charging engine: the record of charge ticks (the SQL twin of the proration position is
-- sql/functions/ebs_charging_position.sql).

-- One row per charge tick. A finished tick's charged_to is the lower edge of the next
-- tick's window, so a tick considers only charges due since the last finished one (catch-up
-- after downtime is the whole gap, once). Idempotency does not rest on this table: every
-- charge is also guarded by its ledger idempotency key.
CREATE TABLE charge_runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    charged_to timestamptz NOT NULL,
    charged_from timestamptz,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    entries integer NOT NULL DEFAULT 0,
    amount numeric(14, 2) NOT NULL DEFAULT 0
);
CREATE INDEX charge_runs_finished_idx ON charge_runs (charged_to) WHERE finished_at IS NOT NULL;

-- --------------------------------------------------------------------------------------
-- RADIUS accounting
-- --------------------------------------------------------------------------------------
-- RADIUS accounting applied inside PostgreSQL: FreeRADIUS's rlm_sql calls ebs_acct_apply()
-- (sql/functions/ebs_acct_apply.sql, which says how) once per Accounting-Request.

-- Accounting-On/Off closes sessions by the NAS's address.
CREATE INDEX sessions_open_nas_ip_idx ON sessions_open (nas_ip);

-- An Interim-Update rewrites updated_at and the counters of one row. With no index on
-- those columns and room left in each page, PostgreSQL updates the row in place (HOT)
-- without touching any of the table's indexes: the hottest write of the system gets
-- cheap. The stale-session sweep, the only reader of updated_at, scans the table
-- every few minutes instead (a sequential scan of 500k rows is well under a second).
ALTER TABLE sessions_open SET (fillfactor = 70);

-- --------------------------------------------------------------------------------------
-- RADIUS authorize and the auth log
-- --------------------------------------------------------------------------------------
-- RADIUS authorize runs ebs_radius_check() (sql/functions/ebs_radius_check.sql says how).

-- The auth log: one row per Access-Request answered, accepted or not, with the reason
-- code (billing.access.Reason). Written by rlm_sql in post-auth (sql/auth.conf under
-- freeradius_conf/mods-config), read by the admin. Partitioned by month like the session
-- history: old months are dropped whole.
CREATE TABLE auth_log (
    id bigint GENERATED ALWAYS AS IDENTITY,
    logged_at timestamptz NOT NULL DEFAULT now(),
    username text NOT NULL DEFAULT '',
    nas_ip inet,
    calling_station_id text NOT NULL DEFAULT '',
    reason text NOT NULL,
    accepted boolean NOT NULL,
    guest boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id, logged_at)
) PARTITION BY RANGE (logged_at);
CREATE INDEX auth_log_logged_at_idx ON auth_log (logged_at);
CREATE INDEX auth_log_username_idx ON auth_log (username, logged_at);
CREATE TABLE auth_log_default PARTITION OF auth_log DEFAULT;
SELECT ebs_ensure_month_partitions('auth_log', now() - interval '1 month', now() + interval '3 months');

-- --------------------------------------------------------------------------------------
-- IP leases and custom reply attributes
-- --------------------------------------------------------------------------------------
-- IP address leasing (how it works: sql/functions/ebs_radius_lease.sql), the Class that
-- links accounting to it, and custom reply attributes.
CREATE TABLE ip_leases (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pool_id integer NOT NULL REFERENCES ip_pools (id) ON DELETE CASCADE,
    address inet NOT NULL,
    state text NOT NULL CHECK (state IN ('offered', 'active', 'free')),
    subaccount_id bigint REFERENCES subaccounts (id) ON DELETE SET NULL,
    -- Acct-Unique-Session-Id of the session using it, set by the Start that confirms it.
    session_key text,
    nas_ip inet,
    leased_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    UNIQUE (pool_id, address)
);
-- Reuse: the pool's longest-expired rows first, so a freed address goes to others last.
CREATE INDEX ip_leases_expiry_idx ON ip_leases (pool_id, expires_at);
CREATE INDEX ip_leases_subaccount_idx ON ip_leases (subaccount_id)
    WHERE subaccount_id IS NOT NULL;
CREATE INDEX ip_leases_session_idx ON ip_leases (session_key) WHERE session_key IS NOT NULL;

-- Pools whose every address has a lease row: no never-leased address is left to look
-- for, so a full pool costs its allocations nothing more than the look for a free row.
-- Rows are never deleted, so a pool stays filled until its range changes.
CREATE TABLE ip_pools_filled (
    pool_id integer PRIMARY KEY REFERENCES ip_pools (id) ON DELETE CASCADE,
    filled_at timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER ip_pools_range_changed
    AFTER UPDATE OF range_start, range_end ON ip_pools
    FOR EACH ROW EXECUTE FUNCTION ebs_pool_range_changed();

CREATE TRIGGER sessions_open_free_leases
    AFTER DELETE ON sessions_open
    REFERENCING OLD TABLE AS closed
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_leases_free_closed();

-- Custom reply attributes per tariff and per NAS (NULL: any), each for a normal accept,
-- a guest-pool accept, or both. rlm_ebs adds them after its own replies, the most
-- specific row last (so ':=' on a tariff-and-NAS row wins). A name FreeRADIUS does not
-- know is logged and skipped by the server, never a failed request.
CREATE TABLE radius_reply_attributes (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tariff_id integer REFERENCES tariffs (id) ON DELETE CASCADE,
    nas_id integer REFERENCES nas (id) ON DELETE CASCADE,
    attribute text NOT NULL CHECK (attribute ~ '^[A-Za-z][A-Za-z0-9-]{0,62}$'),
    op text NOT NULL DEFAULT '+=' CHECK (op IN ('=', ':=', '+=')),
    value text NOT NULL CHECK (octet_length(value) BETWEEN 1 AND 253),
    applies_when text NOT NULL DEFAULT 'accept'
        CHECK (applies_when IN ('accept', 'guest', 'always')),
    description text NOT NULL DEFAULT ''
);
CREATE INDEX radius_reply_attributes_tariff_idx ON radius_reply_attributes (tariff_id);
CREATE INDEX radius_reply_attributes_nas_idx ON radius_reply_attributes (nas_id);

-- --------------------------------------------------------------------------------------
-- Subscribers found by switch port; NAS secrets
-- --------------------------------------------------------------------------------------
-- Finding the subscriber by more than its User-Name: sql/functions/ebs_radius_subaccount.sql.

-- Access switches that relay DHCP with option 82, known by the remote id they insert.
CREATE TABLE switches (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    -- As ebs_option82_remote_id() reads it: the switch's MAC as aa:bb:cc:dd:ee:ff, or
    -- its text (a host name), or lower-case hex.
    remote_id text NOT NULL UNIQUE CHECK (remote_id <> ''),
    description text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A subaccount bound to a switch port: one port per subaccount, one subaccount per port.
CREATE TABLE subaccount_switch_ports (
    subaccount_id bigint PRIMARY KEY REFERENCES subaccounts (id) ON DELETE CASCADE,
    switch_id integer NOT NULL REFERENCES switches (id) ON DELETE CASCADE,
    port integer NOT NULL CHECK (port BETWEEN 0 AND 65535),
    UNIQUE (switch_id, port)
);

-- A secret FreeRADIUS could not read from clients.conf (a quote, a backslash, ${...},
-- a non-ASCII byte) would keep every NAS out: refused at the door. NOT VALID: an old
-- row is not checked here; stack.radius_clients leaves such a NAS out with a warning.
ALTER TABLE nas ADD CONSTRAINT nas_secret_renderable
    CHECK (secret ~ '^[ -~]+$' AND secret !~ '["\\$]') NOT VALID;

-- --------------------------------------------------------------------------------------
-- The accounting spool
-- --------------------------------------------------------------------------------------
-- The accounting spool's read positions (stack/acct_spool.py).
--
-- When rlm_sql cannot apply an Accounting-Request, FreeRADIUS writes it to a spool
-- detail file (freeradius_conf/mods-enabled/acct_spool). The drain renames each spool
-- file to a uniquely named work file, applies its entries in batches and records, in
-- the same transaction as each batch, how far into the file it has got. A drain that
-- dies mid-file resumes after the last committed batch: no entry is applied twice by
-- the drain, none is skipped (and ebs_acct_apply is idempotent besides).
-- One row per work file and RADIUS host; the row goes when its file has been removed.
CREATE TABLE acct_spool_files (
    host text NOT NULL,
    work_file text NOT NULL,
    position bigint NOT NULL DEFAULT 0 CHECK (position >= 0),
    applied bigint NOT NULL DEFAULT 0,
    skipped bigint NOT NULL DEFAULT 0,
    done boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host, work_file)
);

COMMENT ON TABLE acct_spool_files IS
    'How far the accounting-spool drain has applied each work file (committed per batch).';

-- --------------------------------------------------------------------------------------
-- CoA and Disconnect
-- --------------------------------------------------------------------------------------
-- CoA and Disconnect (RFC 5176) towards the NASes: per-NAS retry settings and the record
-- of every request sent by worker/ (ebs.kick_session, ebs.change_speed,
-- ebs.enforce_access).

-- How long to wait for a NAS's reply and how often to send the request in all. A NAS far
-- away, or one that is slow to tear a session down, needs more than the default.
ALTER TABLE nas
    ADD COLUMN coa_timeout_ms integer NOT NULL DEFAULT 3000
        CHECK (coa_timeout_ms BETWEEN 100 AND 60000),
    ADD COLUMN coa_attempts integer NOT NULL DEFAULT 3 CHECK (coa_attempts BETWEEN 1 AND 10);

-- One row per (session, desired state): the idempotency key of DESIGN.md. desired_state
-- is 'disconnected', 'guest' (disconnected so that it comes back into the guest pool) or
-- 'speed:<rate limit in MikroTik form>' / 'speed:none'. A worker claims a row before it
-- sends (state 'sending'), so a duplicate delivery finds the row taken or already ACKed
-- and sends nothing; a row that was not ACKed, or whose ACK a later request for the same
-- session has superseded, may be claimed again. Sessions are named by their
-- Acct-Unique-Session-Id without a foreign key: the record outlives sessions_open's row.
CREATE TABLE coa_requests (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    acct_unique_id text NOT NULL CHECK (acct_unique_id <> ''),
    desired_state text NOT NULL CHECK (desired_state <> ''),
    kind text NOT NULL CHECK (kind IN ('disconnect', 'coa')),
    account_id bigint REFERENCES accounts (id) ON DELETE SET NULL,
    nas_id integer REFERENCES nas (id) ON DELETE SET NULL,
    reason text NOT NULL DEFAULT '',
    attributes jsonb NOT NULL DEFAULT '[]',
    state text NOT NULL DEFAULT 'sending' CHECK (state IN ('sending', 'done')),
    result text CHECK (result IN ('ACK', 'NAK', 'timeout', 'error')),
    error_cause integer,
    error text NOT NULL DEFAULT '',
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    requested_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    UNIQUE (acct_unique_id, desired_state),
    CHECK ((state = 'done') = (result IS NOT NULL)),
    CHECK ((state = 'done') = (finished_at IS NOT NULL))
);
CREATE INDEX coa_requests_account_idx ON coa_requests (account_id, requested_at);
CREATE INDEX coa_requests_unfinished_idx ON coa_requests (requested_at) WHERE state = 'sending';
-- ebs.prune_coa walks finished requests oldest first (worker/coa_retention.py).
CREATE INDEX coa_requests_finished_idx ON coa_requests (finished_at, id) WHERE state = 'done';

-- --------------------------------------------------------------------------------------
-- Account state history, self-suspension, package cost
-- --------------------------------------------------------------------------------------
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
CREATE TRIGGER ledger_entries_unblock_package AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_ledger_unblock_package();

-- --------------------------------------------------------------------------------------
-- Tariff change, promised payment, balance transfer
-- --------------------------------------------------------------------------------------
-- Tariff change, promised payment and balance transfer: the tables behind
-- billing/tariff_change.py, billing/promise.py and billing/transfer.py.

-- The unused part of an AT_START charge returned when its assignment is cut short (a
-- tariff change inside a period that was charged in advance).
INSERT INTO ledger_entry_kinds (code, title_en, title_ru) VALUES
    ('refund_periodic', 'Unused part of a periodic service', 'Возврат неиспользованной части периодической услуги');

-- The change matrix: which move from -> to a subscriber (or cashier) may make, at what cost
-- and under which conditions. No row means "not allowed"; admins' bulk changes bypass it.
CREATE TABLE tariff_change_rules (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_tariff_id integer NOT NULL REFERENCES tariffs (id) ON DELETE CASCADE,
    to_tariff_id integer NOT NULL REFERENCES tariffs (id) ON DELETE CASCADE,
    allowed boolean NOT NULL DEFAULT true,
    cost numeric(14, 2) NOT NULL DEFAULT 0 CHECK (cost >= 0),
    min_balance numeric(14, 2) NOT NULL DEFAULT 0,
    min_time_on_tariff interval NOT NULL DEFAULT '0' CHECK (min_time_on_tariff >= interval '0'),
    effective text NOT NULL DEFAULT 'NOW' CHECK (effective IN ('NOW', 'NEXT_PERIOD')),
    UNIQUE (from_tariff_id, to_tariff_id),
    CHECK (from_tariff_id <> to_tariff_id)
);
CREATE INDEX tariff_change_rules_to_idx ON tariff_change_rules (to_tariff_id);

-- Every tariff change, done or scheduled: the journal of who moved whom, when and at what
-- cost. A 'pending' row is a scheduled change; the charge tick applies it at effective_at
-- by opening a new account_tariffs row (which ends the previous one). One pending change
-- per account at a time.
CREATE TABLE tariff_changes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    from_tariff_id integer REFERENCES tariffs (id),
    to_tariff_id integer NOT NULL REFERENCES tariffs (id),
    effective_at timestamptz NOT NULL,
    requested_at timestamptz NOT NULL,
    cost numeric(14, 2) NOT NULL DEFAULT 0 CHECK (cost >= 0),
    source text NOT NULL CHECK (source IN ('matrix', 'bulk')),
    staff_user_id integer REFERENCES ab_user (id),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'cancelled')),
    settled_at timestamptz,
    assignment_id bigint UNIQUE REFERENCES account_tariffs (id),
    reason text NOT NULL DEFAULT '',
    CHECK (source <> 'bulk' OR staff_user_id IS NOT NULL),
    CHECK ((status = 'applied') = (assignment_id IS NOT NULL)),
    CHECK ((status = 'pending') = (settled_at IS NULL))
);
CREATE UNIQUE INDEX tariff_changes_one_pending_idx ON tariff_changes (account_id)
    WHERE status = 'pending';
CREATE INDEX tariff_changes_due_idx ON tariff_changes (effective_at) WHERE status = 'pending';
CREATE INDEX tariff_changes_account_idx ON tariff_changes (account_id, effective_at);
CREATE INDEX tariff_changes_staff_idx ON tariff_changes (staff_user_id)
    WHERE staff_user_id IS NOT NULL;

-- Promised payment settings: one global row (tariff_id NULL) and optional rows per tariff
-- that replace it for that tariff's subscribers.
CREATE TABLE promise_settings (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tariff_id integer REFERENCES tariffs (id) ON DELETE CASCADE,
    allowed boolean NOT NULL DEFAULT true,
    max_sum numeric(14, 2) NOT NULL CHECK (max_sum > 0),
    min_balance numeric(14, 2) NOT NULL DEFAULT 0,
    days integer NOT NULL CHECK (days > 0),
    cooldown_days integer NOT NULL DEFAULT 0 CHECK (cooldown_days >= 0),
    UNIQUE NULLS NOT DISTINCT (tariff_id)
);

-- Promised payments: a temporary credit (ledger kind 'promised_payment') taken back by a
-- debit ('promised_payment_close') when real payments cover it or when it expires.
CREATE TABLE promised_payments (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    amount numeric(14, 2) NOT NULL CHECK (amount > 0),
    taken_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    staff_user_id integer REFERENCES ab_user (id),
    closed_at timestamptz,
    close_reason text CHECK (close_reason IN ('paid', 'expired')),
    CHECK (expires_at > taken_at),
    CHECK ((closed_at IS NULL) = (close_reason IS NULL))
);
CREATE UNIQUE INDEX promised_payments_one_open_idx ON promised_payments (account_id)
    WHERE closed_at IS NULL;
CREATE INDEX promised_payments_expiry_idx ON promised_payments (expires_at)
    WHERE closed_at IS NULL;
CREATE INDEX promised_payments_account_idx ON promised_payments (account_id, taken_at);

-- --------------------------------------------------------------------------------------
-- Admin and cashier
-- --------------------------------------------------------------------------------------
-- The cashier finds a subscriber by street as well as by contract, login, phone and name:
-- a prefix of lower(street) needs its own text_pattern_ops index (LIKE 'x%' cannot use
-- the default collation's btree), as accounts_full_name_idx serves names.
CREATE INDEX accounts_street_idx ON accounts (lower(street) text_pattern_ops);

-- What staff change through the admin: who, when, which object, the values before and
-- after (secrets masked). Money is not here: ledger entries carry their operator.
CREATE TABLE staff_audit_log (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    logged_at timestamptz NOT NULL DEFAULT now(),
    staff_user_id integer REFERENCES ab_user (id),
    -- The admin forms' add/edit/delete, and the REST API's business actions.
    action text NOT NULL CHECK (action IN ('add', 'edit', 'delete', 'payment', 'tariff_change',
                                           'suspend', 'resume', 'kick')),
    object_type text NOT NULL,
    object_id text NOT NULL,
    old_values jsonb NOT NULL DEFAULT '{}',
    new_values jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX staff_audit_log_logged_idx ON staff_audit_log (logged_at);
CREATE INDEX staff_audit_log_object_idx ON staff_audit_log (object_type, object_id, logged_at);
CREATE INDEX staff_audit_log_staff_idx ON staff_audit_log (staff_user_id, logged_at);

-- --------------------------------------------------------------------------------------
-- Open sessions: lookups
-- --------------------------------------------------------------------------------------
-- Authorize counts a subscriber's live sessions (simultaneous use) on every
-- Access-Request: without this index that is a scan of every open session. Interim
-- updates never change subaccount_id, so they stay HOT (see sessions_open's fillfactor).
CREATE INDEX sessions_open_subaccount_idx ON sessions_open (subaccount_id);

-- The admin's operations pages search open sessions by login and address, list them
-- newest first, and look up who held an address. An interim update writes the same
-- login, address and start time again (or leaves them), and PostgreSQL keeps an update
-- HOT when no indexed value changes, so the hottest write of the system stays cheap;
-- a lease's address is never rewritten.
CREATE INDEX IF NOT EXISTS sessions_open_username_idx ON sessions_open (username);
CREATE INDEX IF NOT EXISTS sessions_open_framed_ip_idx ON sessions_open (framed_ip);
CREATE INDEX IF NOT EXISTS sessions_open_started_idx ON sessions_open (started_at);
CREATE INDEX IF NOT EXISTS ip_leases_address_idx ON ip_leases (address);

-- --------------------------------------------------------------------------------------
-- Reports: dashboard counts, ledger totals, staff networks
-- --------------------------------------------------------------------------------------
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

-- Ledger totals for the reports, in 15-minute buckets per kind, source (a payment's
-- gateway, details->>'source') and operator, so a month's report sums a few thousand rows
-- instead of a million entries. 15 minutes divides every timezone offset in use, so the
-- local days of any ISP's TIME_ZONE are whole runs of buckets. Entries are append-only,
-- so only inserts move the totals, and the totals are append-only too, like
-- account_stats_deltas: each statement appends its groups (a tick chunk: one row) and
-- never waits on another's commit, where one row per key would make the charge tick's two
-- range workers, and every gateway payment of a quarter hour, queue behind each other.
-- Readers sum; ebs_ledger_totals_fold() (worker beat, ebs.fold_totals) merges a key's
-- rows into one now and then.
CREATE TABLE ledger_totals (
    bucket timestamptz NOT NULL,
    kind text NOT NULL REFERENCES ledger_entry_kinds (code),
    source text NOT NULL DEFAULT '',
    staff_user_id integer NOT NULL DEFAULT 0, -- 0: no operator (gateways, the charge tick)
    entries bigint NOT NULL DEFAULT 0,
    amount numeric(16, 2) NOT NULL DEFAULT 0,
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY
);
CREATE INDEX ledger_totals_kind_idx ON ledger_totals (kind, bucket);
CREATE INDEX ledger_totals_bucket_idx ON ledger_totals (bucket);
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

-- --------------------------------------------------------------------------------------
-- The posting path
-- --------------------------------------------------------------------------------------
-- The posting path does as little as it can per ledger entry and per balance a charge tick
-- moves (measured on `ebs bench charge`, 500,000 entries a tick).

-- Room on every accounts page for a second version of each row, so a balance update
-- (it changes no indexed column) is a HOT update: the row moves within its page and none
-- of the six indexes of accounts gets a new entry. A base charged daily settles at this
-- density anyway (each tick leaves one dead version per account for vacuum); the setting
-- makes a freshly loaded or restored table start there. Existing pages keep their
-- density until rows move.
ALTER TABLE accounts SET (fillfactor = 50);

-- "An entry's account exists" is checked once per statement instead of once per row.
-- The balance trigger already updates every account a statement posts to; an account
-- it cannot update does not exist (or was deleted meanwhile), and the statement fails
-- with the foreign-key error class. The update locks each account row until commit, so
-- a concurrent DELETE waits and then meets the guard below, as it met the foreign key.
CREATE TRIGGER accounts_keep_ledger_delete BEFORE DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION ebs_accounts_keep_ledger();
CREATE TRIGGER accounts_keep_ledger_id AFTER UPDATE OF id ON accounts
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION ebs_accounts_keep_ledger();
CREATE TRIGGER accounts_keep_ledger_truncate BEFORE TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_accounts_keep_ledger();

-- Kinds stay rows of ledger_entry_kinds (features add theirs with an INSERT; the admin
-- reads the titles), checked once per statement over the statement's distinct kinds,
-- each locked against deletion until commit as the foreign key locked it per row. The
-- trigger's name sorts before the other AFTER INSERT triggers, so it speaks first.
CREATE TRIGGER ledger_entries_accept_kinds AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_ledger_accept_kinds();
CREATE TRIGGER ledger_entry_kinds_keep_used_delete BEFORE DELETE ON ledger_entry_kinds
    FOR EACH ROW EXECUTE FUNCTION ebs_ledger_kinds_keep_used();
CREATE TRIGGER ledger_entry_kinds_keep_used_code BEFORE UPDATE OF code ON ledger_entry_kinds
    FOR EACH ROW WHEN (OLD.code IS DISTINCT FROM NEW.code)
    EXECUTE FUNCTION ebs_ledger_kinds_keep_used();
CREATE TRIGGER ledger_entry_kinds_keep_used_truncate BEFORE TRUNCATE ON ledger_entry_kinds
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_ledger_kinds_keep_used();
