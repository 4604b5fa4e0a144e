-- The admin's operations pages search open sessions by login and address, list them
-- newest first, and look up who held an address. An interim update writes the same
-- login, address and start time again (or leaves them), and PostgreSQL keeps an update
-- HOT when no indexed value changes, so the hottest write of the system stays cheap;
-- a lease's address is never rewritten.
CREATE INDEX IF NOT EXISTS sessions_open_username_idx ON sessions_open (username);
CREATE INDEX IF NOT EXISTS sessions_open_framed_ip_idx ON sessions_open (framed_ip);
CREATE INDEX IF NOT EXISTS sessions_open_started_idx ON sessions_open (started_at);
CREATE INDEX IF NOT EXISTS ip_leases_address_idx ON ip_leases (address);
