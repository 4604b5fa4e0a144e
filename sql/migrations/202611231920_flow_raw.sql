-- Raw flow rows as nfacctd's PostgreSQL plugin writes them (flow/nfacctd.conf.tmpl):
-- COPY, insert-only, one row per source, destination, protocol and ports per one-minute
-- bin of arrival time. Column names and types are pmacct's for the primitives we
-- aggregate on (src_host, dst_host, proto, src_port, dst_port) with sql_optimize_clauses.
-- No unique key: a collector restarted within a minute writes that bin's key twice, and
-- the rater sums anyway. Partitioned by day on the bin, so rated days go by DROP, not by
-- DELETE; the default partition catches rows for days nobody prepared.
CREATE TABLE flow_raw (
    ip_src inet NOT NULL DEFAULT '0.0.0.0',
    ip_dst inet NOT NULL DEFAULT '0.0.0.0',
    port_src integer NOT NULL DEFAULT 0,
    port_dst integer NOT NULL DEFAULT 0,
    ip_proto smallint NOT NULL DEFAULT 0,
    packets bigint NOT NULL,
    bytes bigint NOT NULL,
    stamp_inserted timestamptz NOT NULL,
    stamp_updated timestamptz
) PARTITION BY RANGE (stamp_inserted);

CREATE TABLE flow_raw_default PARTITION OF flow_raw DEFAULT;

-- Append-only and ordered by time: a BRIN index costs next to nothing to maintain.
CREATE INDEX flow_raw_stamp_inserted ON flow_raw USING brin (stamp_inserted);

-- The partition for one UTC day, created ahead of time (a no-op when it exists).
CREATE FUNCTION ebs_flow_raw_partition(day date) RETURNS regclass
    LANGUAGE plpgsql
    AS $$
    DECLARE
        name text := format('flow_raw_%s', to_char(day, 'YYYYMMDD'));
        low timestamptz := (day::timestamp AT TIME ZONE 'UTC');
    BEGIN
        IF to_regclass(name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF flow_raw FOR VALUES FROM (%L) TO (%L)',
                name, low, low + interval '1 day'
            );
        END IF;
        RETURN name::regclass;
    END
    $$;
