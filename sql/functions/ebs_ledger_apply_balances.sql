-- Balances follow the ledger in the same statement: one set-based UPDATE per INSERT or
-- COPY, however many entries it brings (a charge tick of 500k rows is one update).
-- SECURITY DEFINER: the owner moves the balance (no application role may UPDATE it), and
-- at trigger depth 1, which the balance guard's WHEN lets through.
CREATE OR REPLACE FUNCTION ebs_ledger_apply_balances() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
DECLARE
    posted bigint;
    moved bigint;
BEGIN
    WITH sums AS (
        SELECT account_id, sum(amount) AS total FROM new_entries GROUP BY account_id
    ), updated AS (
        UPDATE accounts a
           SET balance = a.balance + s.total
          FROM sums s
         WHERE a.id = s.account_id
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM sums), (SELECT count(*) FROM updated) INTO posted, moved;
    IF moved <> posted THEN
        RAISE EXCEPTION 'ledger entries for % account(s) that do not exist', posted - moved
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

REVOKE ALL ON FUNCTION ebs_ledger_apply_balances() FROM PUBLIC;
