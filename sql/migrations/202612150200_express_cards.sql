-- Express cards (billing/express_cards.py): a series of prepaid cards, each a printed
-- number and a PIN under a scratch layer, sold in batches to dealers and activated once
-- onto an account's balance.
--
-- A PIN is kept as an HMAC under a key outside the database (pin_hash); the cleartext
-- PINs of a series wait, sealed under that key, in card_series.pins_sealed until the one
-- export hands them to the printer, which empties the column. So a dump holds nothing a
-- guesser can test PINs against, and nobody reads a PIN from the database twice.

CREATE TABLE card_dealers (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    discount_percent numeric(5, 2) NOT NULL DEFAULT 0
        CHECK (discount_percent >= 0 AND discount_percent < 100),
    contact text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE card_series (
    id serial PRIMARY KEY,
    name text NOT NULL,
    nominal numeric(14, 2) NOT NULL CHECK (nominal > 0),
    card_count integer NOT NULL CHECK (card_count BETWEEN 1 AND 100000),
    pin_length smallint NOT NULL CHECK (pin_length BETWEEN 6 AND 32),
    pin_alphabet text NOT NULL CHECK (length(pin_alphabet) BETWEEN 2 AND 100),
    valid_until timestamptz NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    pins_sealed bytea,
    exported_at timestamptz,
    exported_by integer REFERENCES ab_user (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by integer REFERENCES ab_user (id),
    comment text NOT NULL DEFAULT '',
    -- The sealed PINs live exactly until the export.
    CHECK ((pins_sealed IS NULL) = (exported_at IS NOT NULL))
);

-- A sale is the dealer's invoice: the cards it covers, at the nominal and the dealer's
-- discount of that day, its total fixed when sold.
CREATE TABLE card_sales (
    id serial PRIMARY KEY,
    dealer_id integer NOT NULL REFERENCES card_dealers (id),
    series_id integer NOT NULL REFERENCES card_series (id),
    card_count integer NOT NULL CHECK (card_count > 0),
    nominal numeric(14, 2) NOT NULL CHECK (nominal > 0),
    discount_percent numeric(5, 2) NOT NULL
        CHECK (discount_percent >= 0 AND discount_percent < 100),
    total numeric(14, 2) NOT NULL CHECK (total >= 0),
    first_number text NOT NULL,
    last_number text NOT NULL,
    sold_at timestamptz NOT NULL DEFAULT now(),
    staff_user_id integer REFERENCES ab_user (id)
);
CREATE INDEX card_sales_dealer_idx ON card_sales (dealer_id, sold_at);
CREATE INDEX card_sales_series_idx ON card_sales (series_id);

CREATE TABLE express_cards (
    id bigserial PRIMARY KEY,
    series_id integer NOT NULL REFERENCES card_series (id),
    serial integer NOT NULL CHECK (serial > 0),
    number text NOT NULL UNIQUE,
    pin_hash bytea NOT NULL,
    sale_id integer REFERENCES card_sales (id),
    activated_at timestamptz,
    account_id bigint REFERENCES accounts (id),
    ledger_entry_id bigint REFERENCES ledger_entries (id),
    UNIQUE (series_id, serial),
    CHECK ((activated_at IS NULL) = (account_id IS NULL)
           AND (activated_at IS NULL) = (ledger_entry_id IS NULL)),
    CHECK (activated_at IS NULL OR sale_id IS NOT NULL)
);
-- The next unsold cards of a series, in serial order (a sale takes them).
CREATE INDEX express_cards_unsold_idx ON express_cards (series_id, serial)
    WHERE sale_id IS NULL;
CREATE INDEX express_cards_sale_idx ON express_cards (sale_id) WHERE sale_id IS NOT NULL;
CREATE INDEX express_cards_account_idx ON express_cards (account_id)
    WHERE account_id IS NOT NULL;

-- Wrong PINs per account and per source (a staff member's desk, an API client, a
-- subscriber's address): after EXPRESS_CARD_PIN_FAILURES in a row the key is locked for
-- a time that doubles with each further failure, as the staff login guard does.
CREATE TABLE card_pin_guard (
    scope text NOT NULL CHECK (scope IN ('account', 'source')),
    subject text NOT NULL,
    failures integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    last_failure_at timestamptz NOT NULL,
    locked_until timestamptz,
    PRIMARY KEY (scope, subject)
);

-- The reports role reads the cards but not what stands for a PIN.
REVOKE SELECT ON card_series, express_cards FROM ebs_reports;
GRANT SELECT (id, name, nominal, card_count, pin_length, pin_alphabet, valid_until, enabled,
              exported_at, exported_by, created_at, created_by, comment)
    ON card_series TO ebs_reports;
GRANT SELECT (id, series_id, serial, number, sale_id, activated_at, account_id,
              ledger_entry_id)
    ON express_cards TO ebs_reports;
