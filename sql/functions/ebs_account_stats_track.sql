CREATE OR REPLACE FUNCTION ebs_account_stats_track() RETURNS trigger LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
DECLARE
    source text := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT 1 AS sign, * FROM new_rows'
        WHEN 'DELETE' THEN 'SELECT -1 AS sign, * FROM old_rows'
        ELSE 'SELECT 1 AS sign, * FROM new_rows UNION ALL SELECT -1, * FROM old_rows' END;
BEGIN
    EXECUTE format(
        $q$
        INSERT INTO account_stats_deltas (total, active, blocked, suspended, debtors, debt)
        SELECT * FROM (
            SELECT coalesce(sum(sign), 0) AS total,
                   coalesce(sum(sign) FILTER (WHERE status = 'active' AND NOT blocked_by_balance
                                              AND NOT blocked_by_limit), 0) AS active,
                   coalesce(sum(sign) FILTER (WHERE blocked_by_balance OR blocked_by_limit), 0)
                       AS blocked,
                   coalesce(sum(sign) FILTER (WHERE status = 'suspended'), 0) AS suspended,
                   coalesce(sum(sign) FILTER (WHERE balance + credit < 0), 0) AS debtors,
                   coalesce(sum(sign * balance) FILTER (WHERE balance < 0), 0) AS debt
              FROM (%s) s
        ) d
        WHERE (total, active, blocked, suspended, debtors, debt) <> (0, 0, 0, 0, 0, 0)
        $q$, source);
    RETURN NULL;
END $$;

REVOKE ALL ON FUNCTION ebs_account_stats_track() FROM PUBLIC;
