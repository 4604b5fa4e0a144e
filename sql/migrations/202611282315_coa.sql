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
