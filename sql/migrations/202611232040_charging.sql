-- Charging engine: the record of charge ticks and the SQL twin of the proration position.

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

-- Position of moment t inside a settlement period cut into local calendar days: bounds
-- holds the day starts and the period end; each day counts 86400 units however long it
-- really is (a DST day is one day), so proration is the same in every timezone. Twin of
-- billing.charging.schedule.position (tested against it).
CREATE FUNCTION ebs_charging_position(t timestamptz, bounds timestamptz[]) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
        SELECT CASE
            WHEN t <= bounds[1] THEN 0
            WHEN t >= bounds[n] THEN (n - 1)::bigint * 86400
            ELSE (d - 1)::bigint * 86400
                 + div(round(extract(epoch FROM t - bounds[d]) * 1000000) * 86400,
                       round(extract(epoch FROM bounds[d + 1] - bounds[d]) * 1000000))::bigint
        END
        FROM (SELECT cardinality(bounds) AS n,
                     (SELECT max(i) FROM generate_subscripts(bounds, 1) AS i
                       WHERE bounds[i] <= t) AS d) AS x
    $$;
