-- Per tariff, the spans that started and that ended in [from, to) (both 15-minute bucket
-- boundaries, as the ISP's local midnights are): whole UTC days inside the range are read
-- from assignment_totals_daily, the partial days at its edges from assignment_totals, so
-- a range over years sums a few thousand rows. from = '-infinity' gives, as
-- starts - ends, the assignments in force just before ``to``.
-- A SQL-standard body binds its names when it is created (no search_path applies) and,
-- with no SET clause, is inlined into the report's statement: planned with the range's
-- real bounds, the edges are index range scans (a generic plan of a called function
-- scanned every bucket).
CREATE OR REPLACE FUNCTION ebs_assignment_moves(from_at timestamptz, to_at timestamptz)
    RETURNS TABLE (tariff_id integer, starts bigint, ends bigint)
    LANGUAGE sql STABLE
BEGIN ATOMIC
    WITH edges AS (
        SELECT CASE WHEN date_trunc('day', from_at, 'UTC') = from_at THEN from_at
                    ELSE date_trunc('day', from_at, 'UTC') + interval '1 day' END AS first_day,
               date_trunc('day', to_at, 'UTC') AS last_day
    )
    SELECT x.tariff_id, sum(x.starts)::bigint, sum(x.ends)::bigint
      FROM edges e,
           LATERAL (
               SELECT d.tariff_id, d.starts, d.ends FROM assignment_totals_daily d
                WHERE d.day >= e.first_day AND d.day < e.last_day
               UNION ALL
               SELECT f.tariff_id, f.starts, f.ends FROM assignment_totals f
                WHERE f.bucket >= from_at AND f.bucket < least(e.first_day, to_at)
               UNION ALL
               SELECT f.tariff_id, f.starts, f.ends FROM assignment_totals f
                WHERE f.bucket >= greatest(e.last_day, e.first_day) AND f.bucket < to_at
           ) x
     GROUP BY x.tariff_id;
END;

REVOKE ALL ON FUNCTION ebs_assignment_moves(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_assignment_moves(timestamptz, timestamptz)
    TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
