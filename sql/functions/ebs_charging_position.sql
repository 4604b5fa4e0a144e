-- Position of moment t inside a settlement period cut into local calendar days: bounds
-- holds the day starts and the period end; each day counts 86400 units however long it
-- really is (a DST day is one day), so proration is the same in every timezone. Twin of
-- billing.charging.schedule.position (tested against it).
CREATE OR REPLACE FUNCTION ebs_charging_position(t timestamptz, bounds timestamptz[]) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
   
    SET search_path = public, pg_temp
    AS $$
        SELECT CASE
            WHEN t <= bounds[1] THEN 0
            WHEN t >= bounds[n] THEN (n - 1)::bigint * 86400
            ELSE (d - 1)::bigint * 86400
                 + div(round(extract(epoch FROM t - bounds[d]) * 1000000) * 86400,
                       round(extract(epoch FROM bounds[d + 1] - bounds[d]) * 1000000))::bigint
        END
        FROM (SELECT cardinality(bounds) AS n,
                     (SELECT max(i) FROM generate_subscripts(bounds, 1) AS i
                       WHERE bounds[i] <= t) AS d) AS x
    $$;

REVOKE ALL ON FUNCTION ebs_charging_position(t timestamp with time zone, bounds timestamp with time zone[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_charging_position(t timestamp with time zone, bounds timestamp with time zone[]) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
