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
