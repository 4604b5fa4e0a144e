-- Ledger totals become append-only, like account_stats_deltas.
--
-- The upsert of a statement's groups into one row per (bucket, kind, source, operator)
-- held that row until commit: the charge tick's two range workers, whose chunks all land
-- in the same bucket and kind, waited for each other's commits, and every gateway payment
-- of a quarter hour queued behind the one before it. Now each statement appends its groups
-- (a tick chunk: one row) and never waits; readers already sum. ebs_ledger_totals_fold()
-- (worker beat, ebs.fold_totals) merges a key's rows into one now and then.
ALTER TABLE ledger_totals DROP CONSTRAINT ledger_totals_pkey;
ALTER TABLE ledger_totals ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
CREATE INDEX ledger_totals_bucket_idx ON ledger_totals (bucket);

CREATE OR REPLACE FUNCTION ebs_ledger_add_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_totals (bucket, kind, source, staff_user_id, entries, amount)
    SELECT ebs_ledger_bucket(effective_at), kind, coalesce(details->>'source', ''),
           coalesce(staff_user_id, 0), count(*), sum(amount)
      FROM new_entries
     GROUP BY 1, 2, 3, 4;
    RETURN NULL;
END $$;

-- Merge the rows of every key that has more than one into a single row. Rows appended
-- meanwhile are not seen by the DELETE and wait for the next fold; a second fold running
-- at once skips the rows the first deleted (and cannot see the first's new rows), so
-- nothing is counted twice or lost. Returns the number of rows removed by the merge.
CREATE FUNCTION ebs_ledger_totals_fold() RETURNS bigint LANGUAGE sql AS $$
    WITH keys AS (
        SELECT bucket, kind, source, staff_user_id
          FROM ledger_totals
         GROUP BY 1, 2, 3, 4
        HAVING count(*) > 1
    ), gone AS (
        DELETE FROM ledger_totals t
         USING keys k
         WHERE (t.bucket, t.kind, t.source, t.staff_user_id)
             = (k.bucket, k.kind, k.source, k.staff_user_id)
        RETURNING t.*
    ), merged AS (
        INSERT INTO ledger_totals (bucket, kind, source, staff_user_id, entries, amount)
        SELECT bucket, kind, source, staff_user_id, sum(entries), sum(amount)
          FROM gone
         GROUP BY 1, 2, 3, 4
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM merged);
$$;
