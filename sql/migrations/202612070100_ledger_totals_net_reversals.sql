-- Reversals net their originals out in the report totals: ledger_totals is rebuilt from
-- the ledger by the rule of ebs_ledger_add_totals() (functions/ebs_ledger_add_totals.sql,
-- already replaced when this runs): a reversal counts in its own 15-minute bucket under
-- its original's kind, source and operator, as entries -1 with its own amount. Until
-- now it counted under kind 'reversal', which no report or dashboard figure reads, so a
-- reversed payment or charge stayed in every total.
--
-- Read once with writers held off: new entries wait for the commit (and are then counted
-- by the new trigger), and so does a fold, whose rows the DELETE would otherwise not see.
LOCK TABLE ledger_entries IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE ledger_totals IN EXCLUSIVE MODE;

DELETE FROM ledger_totals;

INSERT INTO ledger_totals (bucket, kind, source, staff_user_id, entries, amount)
SELECT g.bucket, coalesce(o.kind, g.kind), coalesce(o.source, g.source),
       coalesce(o.staff_user_id, g.staff_user_id), sum(g.entries), sum(g.amount)
  FROM (SELECT ebs_ledger_bucket(effective_at) AS bucket, kind,
               coalesce(details->>'source', '') AS source,
               coalesce(staff_user_id, 0) AS staff_user_id, reverses_id,
               CASE WHEN reverses_id IS NULL THEN count(*) ELSE -count(*) END AS entries,
               sum(amount) AS amount
          FROM ledger_entries
         GROUP BY 1, 2, 3, 4, 5) g
  LEFT JOIN LATERAL (
        SELECT o.kind, coalesce(o.details->>'source', '') AS source,
               coalesce(o.staff_user_id, 0) AS staff_user_id
          FROM ledger_entries o
         WHERE o.id = g.reverses_id
        OFFSET 0) o ON true
 GROUP BY 1, 2, 3, 4;
