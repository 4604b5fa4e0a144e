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
