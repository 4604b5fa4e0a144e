-- The subscriber cabinet's login state, one row per account that has tried to log in:
-- wrong passwords in a row and the lock they earn (the staff login's rule:
-- webapp/login_guard.py), the count of logouts (a logout ends every cabinet session of
-- the account issued before it), and the last good login for the overview.
CREATE TABLE cabinet_logins (
    account_id bigint PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    failures integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    locked_until timestamptz,
    logouts integer NOT NULL DEFAULT 0 CHECK (logouts >= 0),
    last_login_at timestamptz,
    last_login_from inet
);
