-- A statement's entries added to ledger_totals, one row per bucket, kind, source and
-- operator. A reversal counts in its own bucket (money moved back when it was reversed,
-- so a closed period's figures never change afterwards) but under its original's kind,
-- source and operator, as entries -1 with its own (opposite) amount: the payment,
-- gateway, cashier and charge figures net it out, and no row of kind 'reversal' is kept.
-- The entries are grouped first (a charge tick's 500,000 make a few hundred groups) and
-- only then is each reversal's original looked up by its key. OFFSET 0 keeps that lookup
-- a probe per group: as a plain join the planner, which cannot know that a tick reverses
-- nothing, hashes the whole ledger for every statement.
-- sql/migrations/202612070100_ledger_totals_net_reversals.sql rebuilt the totals by the
-- same rule.
CREATE OR REPLACE FUNCTION ebs_ledger_add_totals() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
BEGIN
    INSERT INTO ledger_totals (bucket, kind, source, staff_user_id, entries, amount)
    SELECT g.bucket, coalesce(o.kind, g.kind), coalesce(o.source, g.source),
           coalesce(o.staff_user_id, g.staff_user_id), sum(g.entries), sum(g.amount)
      FROM (SELECT ebs_ledger_bucket(effective_at) AS bucket, kind,
                   coalesce(details->>'source', '') AS source,
                   coalesce(staff_user_id, 0) AS staff_user_id, reverses_id,
                   CASE WHEN reverses_id IS NULL THEN count(*) ELSE -count(*) END AS entries,
                   sum(amount) AS amount
              FROM new_entries
             GROUP BY 1, 2, 3, 4, 5) g
      LEFT JOIN LATERAL (
            SELECT o.kind, coalesce(o.details->>'source', '') AS source,
                   coalesce(o.staff_user_id, 0) AS staff_user_id
              FROM ledger_entries o
             WHERE o.id = g.reverses_id
            OFFSET 0) o ON true
     GROUP BY 1, 2, 3, 4;
    RETURN NULL;
END $$;

REVOKE ALL ON FUNCTION ebs_ledger_add_totals() FROM PUBLIC;
