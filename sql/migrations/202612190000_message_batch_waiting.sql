-- A lazy batch (billing/notifications/batches.py: materialize): its accounts whose
-- messages are not made yet, kept in the batch's own row. The daily balance alerts of
-- 50,000 subscribers are one array of 50,000 ids (about 160 KB compressed) written by
-- the pass in one statement, not 50,000 rendered messages or rows; the sender makes
-- ``waiting[made + 1 : made + n]`` into messages a few hundred at a time (rendered with
-- the account's fields of that moment, keyed per batch and account, so an account made
-- twice is one message) and moves ``made`` on in the same transaction. A batch made to
-- the end, or cancelled, gives its array up.
ALTER TABLE message_batches
    ADD COLUMN waiting bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN made integer NOT NULL DEFAULT 0,
    ADD CONSTRAINT message_batches_made_check CHECK (made >= 0 AND made <= cardinality(waiting));

-- The balance alerts are counted in place every pass: room on each page lets the update
-- be a heap-only one (no index entry written), a third of the cost.
ALTER TABLE balance_alerts SET (fillfactor = 50);
