-- The tariff assignment in force for an account at a moment: the latest one assigned at
-- or before it (an account's assignments form a timeline, each running until the next;
-- billing/assignments.py explains the rule and holds it for the Python services, tested
-- equal to this function). ebs_radius_check asks it on every login.
-- A set-returning SQL-standard body without a SET clause: the planner inlines it into the
-- caller's query as the subquery it is (one backward read of the (account_id,
-- assigned_at) index), so asking it costs what writing the subquery out cost.
CREATE OR REPLACE FUNCTION ebs_assignment_in_force(p_account bigint, p_at timestamptz)
    RETURNS TABLE (id bigint, tariff_id integer, assigned_at timestamptz)
    LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT t.id, t.tariff_id, t.assigned_at
      FROM account_tariffs t
     WHERE t.account_id = p_account AND t.assigned_at <= p_at
     ORDER BY t.assigned_at DESC
     LIMIT 1;
END;

REVOKE ALL ON FUNCTION ebs_assignment_in_force(p_account bigint, p_at timestamp with time zone) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_assignment_in_force(p_account bigint, p_at timestamp with time zone) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
