-- Addresses a FreeRADIUS node holds for its next logins (RADIUS_AUTH_MODE = "spool"):
-- ebs_radius_reserve() (sql/functions/ebs_radius_reserve.sql) marks a few leasable
-- addresses 'reserved' for one node, which hands them out from its memory without a
-- statement per login; the answer spool carries each offer to ebs_lease_offers_apply().
-- A reserved row names its node ("<name>/<incarnation>") and expires in a century: no other
-- node's search takes it, and a node's next incarnation releases what the last one held.
ALTER TABLE ip_leases DROP CONSTRAINT ip_leases_state_check;
ALTER TABLE ip_leases ADD CONSTRAINT ip_leases_state_check
    CHECK (state IN ('reserved', 'offered', 'active', 'free'));
ALTER TABLE ip_leases ADD COLUMN node text;
ALTER TABLE ip_leases ADD CONSTRAINT ip_leases_reserved_has_node
    CHECK ((state = 'reserved') = (node IS NOT NULL));
CREATE INDEX ip_leases_reserved_idx ON ip_leases (node) WHERE state = 'reserved';

COMMENT ON COLUMN ip_leases.node IS
    'The FreeRADIUS node ("<name>/<incarnation>") holding a reserved address';

-- The auth spool's replay takes the answer time and the leases offered from reserved
-- addresses (sql/functions/ebs_auth_log_replay.sql): the old form goes.
DROP FUNCTION IF EXISTS ebs_auth_log_replay(timestamptz[], text[], inet[], text[], text[],
                                            boolean[], boolean[]);

-- The FreeRADIUS nodes that hold addresses and the incarnation each last reserved under:
-- ebs_radius_reserve releases a node's earlier holdings once, when a new incarnation
-- first asks, instead of looking for them on every call.
CREATE TABLE radius_nodes (
    name text PRIMARY KEY,
    incarnation text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE radius_nodes IS
    'FreeRADIUS nodes holding reserved addresses: the incarnation each reserves under';
