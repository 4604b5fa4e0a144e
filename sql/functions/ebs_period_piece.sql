-- What the piece [piece_from, piece_to) of a settlement period costs: the cumulative rule
-- (ebs_prorate_piece) over the period's day units (ebs_charging_position; bounds holds the
-- day starts and the period end). Every partial charge asks it: AT_START and AT_END
-- pieces (billing/charging/periodic.py), the return of an unused advance charge
-- (billing/charging/refunds.py) and the package share (billing/charging/fillup.py,
-- package.py). Twin of billing.charging.schedule.piece_amount (tested against it).
-- A SQL-standard body without a SET clause: the planner inlines it into those queries.
CREATE OR REPLACE FUNCTION ebs_period_piece(cost numeric, piece_from timestamptz,
                                            piece_to timestamptz, bounds timestamptz[])
    RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ebs_prorate_piece(cost, ebs_charging_position(piece_from, bounds),
                             ebs_charging_position(piece_to, bounds),
                             (cardinality(bounds) - 1)::bigint * 86400);

REVOKE ALL ON FUNCTION ebs_period_piece(cost numeric, piece_from timestamp with time zone, piece_to timestamp with time zone, bounds timestamp with time zone[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_period_piece(cost numeric, piece_from timestamp with time zone, piece_to timestamp with time zone, bounds timestamp with time zone[]) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
