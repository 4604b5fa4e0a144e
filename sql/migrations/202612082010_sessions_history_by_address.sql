-- Attribution asks which sessions held an address at or after a moment: those that
-- stopped after it. Indexed by the stop, a lookup reads an address's recent sessions
-- (and prunes the older months' partitions) instead of its whole history, which
-- 202612082000's (framed_ip, started_at) read for every address of a dynamic pool.
DROP INDEX sessions_history_framed_ip_idx;
CREATE INDEX sessions_history_framed_ip_stop_idx ON sessions_history (framed_ip, stopped_at);
