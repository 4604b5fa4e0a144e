-- Bytes per account, group and local month (TIME_ZONE's calendar, the hours starting in
-- it), kept by every writer of the hourly statistics in the same statement's transaction
-- (flow/groups.py), so that the top consumers of whole months are read off an index, a
-- group's largest rows first, instead of summing millions of hours. Unlike the hourly and
-- daily rows, a month's row is never moved: it is the month's total at any time.
CREATE TABLE traffic_stats_monthly (
    month date NOT NULL CHECK (extract(day FROM month) = 1),
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    group_id integer NOT NULL REFERENCES traffic_groups (id) ON DELETE CASCADE,
    bytes_in bigint NOT NULL DEFAULT 0,
    bytes_out bigint NOT NULL DEFAULT 0,
    bytes_total bigint GENERATED ALWAYS AS (bytes_in + bytes_out) STORED,
    PRIMARY KEY (month, account_id, group_id)
);
CREATE INDEX traffic_stats_monthly_top_idx
    ON traffic_stats_monthly (month, group_id, bytes_total DESC, account_id);

-- The calendar the months are cut in. Written when the months are (re)built from the
-- hourly and daily rows (flow/stats_monthly.py); while it names another zone than
-- TIME_ZONE (none yet after an upgrade, or the operator changed the zone), readers sum
-- the hours and days instead, and the next roll-up rebuilds the months.
CREATE TABLE traffic_stats_monthly_zone (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    zone text NOT NULL CHECK (zone <> ''),
    built_at timestamptz NOT NULL DEFAULT now()
);
