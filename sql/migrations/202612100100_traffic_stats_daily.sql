-- Bytes per account, group and local day (TIME_ZONE's calendar day, the hours starting
-- on it): the hourly statistics rolled up once older than TRAFFIC_STATS_HOURLY_KEEP_DAYS
-- (flow/stats_rollup.py). A byte is in one table or the other, never both: readers add
-- the two.
CREATE TABLE traffic_stats_daily (
    day date NOT NULL,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    group_id integer NOT NULL REFERENCES traffic_groups (id) ON DELETE CASCADE,
    bytes_in bigint NOT NULL DEFAULT 0,
    bytes_out bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, account_id, group_id)
);
CREATE INDEX traffic_stats_daily_account_idx ON traffic_stats_daily (account_id, day);
