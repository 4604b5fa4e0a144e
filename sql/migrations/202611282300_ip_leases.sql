-- IP address leasing, the Class that links accounting to it, and custom reply attributes.
--
-- Leases. FreeRADIUS's rlm_sql calls ebs_radius_lease() once in post-auth (its own
-- parallel pool; the python3 hook never waits on the database), from the pool rlm_ebs
-- chose: the guest pool for a debtor, else the subaccount's pool, else the tariff's;
-- a full pool overflows to its next_pool_id, and so on down the chain.
--
-- ip_leases holds a row for every address ever leased (never one per address of a pool:
-- the seed's pool alone has four million). The row stays when the lease is freed, still
-- naming its last subaccount, so that subscriber gets the same address back while nobody
-- else has taken it (sticky). An address is leasable when it has no row, or its row's
-- expires_at has passed: a freed lease expires at the moment it is freed, an offered one
-- a short while after the Access-Accept unless a Start confirms it, an active one three
-- interim intervals after the last word from its session (the stale-session rule).
--
-- Two FreeRADIUS nodes on one database never lease one address twice: (pool, address)
-- is unique; an existing row is taken under FOR UPDATE SKIP LOCKED (a row another
-- allocation holds is skipped, and a row it has just taken fails the re-checked
-- expires_at); a never-leased address is inserted with ON CONFLICT DO NOTHING, and a
-- lost race retries on another address. Pools may overlap (NAS-local private ranges):
-- the guarantee is per pool.
--
-- Accounting (ebs_acct_apply, replaced below; and the Interim fast path in
-- freeradius_conf/mods-config/sql/accounting.conf): Start confirms the lease the
-- Access-Accept's Class names (offered -> active, bound to the session key), an Interim
-- holds it longer, and closing the session frees it: Stop, Accounting-On/Off and the
-- stale-session sweep all delete from sessions_open, and one statement trigger frees
-- the leases of every deleted session.
--
-- The Interim fast path rewrites expires_at only once less than 1.5 intervals of the
-- 3 are left, so a lease row is written every other interim, not on each: the hottest
-- write of the system stays cheap, and an active lease is never reused while its session
-- is open anyway (ebs_radius_lease checks).

CREATE TABLE ip_leases (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pool_id integer NOT NULL REFERENCES ip_pools (id) ON DELETE CASCADE,
    address inet NOT NULL,
    state text NOT NULL CHECK (state IN ('offered', 'active', 'free')),
    subaccount_id bigint REFERENCES subaccounts (id) ON DELETE SET NULL,
    -- Acct-Unique-Session-Id of the session using it, set by the Start that confirms it.
    session_key text,
    nas_ip inet,
    leased_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    UNIQUE (pool_id, address)
);
-- Reuse: the pool's longest-expired rows first, so a freed address goes to others last.
CREATE INDEX ip_leases_expiry_idx ON ip_leases (pool_id, expires_at);
CREATE INDEX ip_leases_subaccount_idx ON ip_leases (subaccount_id)
    WHERE subaccount_id IS NOT NULL;
CREATE INDEX ip_leases_session_idx ON ip_leases (session_key) WHERE session_key IS NOT NULL;

-- Pools whose every address has a lease row: no never-leased address is left to look
-- for, so a full pool costs its allocations nothing more than the look for a free row.
-- Rows are never deleted, so a pool stays filled until its range changes.
CREATE TABLE ip_pools_filled (
    pool_id integer PRIMARY KEY REFERENCES ip_pools (id) ON DELETE CASCADE,
    filled_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION ebs_pool_range_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM ip_pools_filled WHERE pool_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER ip_pools_range_changed
    AFTER UPDATE OF range_start, range_end ON ip_pools
    FOR EACH ROW EXECUTE FUNCTION ebs_pool_range_changed();

-- A pool and the pools it overflows to, in order; a cycle ends the chain.
CREATE FUNCTION ebs_pool_chain(p_pool text)
    RETURNS integer[] LANGUAGE sql STABLE
BEGIN ATOMIC
    WITH RECURSIVE chain (id, next_pool_id, depth, seen) AS (
        SELECT p.id, p.next_pool_id, 1, ARRAY[p.id] FROM ip_pools p WHERE p.name = p_pool
        UNION ALL
        SELECT p.id, p.next_pool_id, c.depth + 1, c.seen || p.id
          FROM chain c JOIN ip_pools p ON p.id = c.next_pool_id
         WHERE p.id <> ALL (c.seen) AND c.depth < 32
    )
    SELECT array_agg(id ORDER BY depth) FROM chain;
END;

-- The first address in [p_from, p_to] of a pool with no row: p_from itself, or the one
-- after the first row (in address order, read off the unique index, no sort) whose
-- successor has none. A crowded pool has a gap within a few rows; a full one is read
-- to its end once (then it is marked filled).
CREATE FUNCTION ebs_pool_gap(p_pool_id integer, p_from inet, p_to inet)
    RETURNS inet LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT CASE
        WHEN p_from > p_to THEN NULL
        WHEN NOT EXISTS (SELECT 1 FROM ip_leases l
                          WHERE l.pool_id = p_pool_id AND l.address = p_from) THEN p_from
        ELSE (SELECT l.address + 1
                FROM ip_leases l
               WHERE l.pool_id = p_pool_id AND l.address >= p_from AND l.address < p_to
                 AND NOT EXISTS (SELECT 1 FROM ip_leases n
                                  WHERE n.pool_id = p_pool_id AND n.address = l.address + 1)
               ORDER BY l.address
               LIMIT 1)
    END;
END;

-- A never-leased address of one pool (NULL: every address has a row). A sparse pool:
-- one of a few random addresses, a handful of index probes whatever the pool's size.
-- A crowded one: the first gap from a random point on, wrapping round, so concurrent
-- allocations rarely pick the same address (one that does retries, see below). No gap
-- at all (every row committed and visible): the pool is marked filled, once.
CREATE FUNCTION ebs_pool_hole(p_pool_id integer)
    RETURNS inet LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_start inet;
    v_end inet;
    v_size bigint;
    v_pivot inet;
    v_found inet;
BEGIN
    SELECT p.range_start, p.range_end, (p.range_end - p.range_start) + 1
      INTO v_start, v_end, v_size
      FROM ip_pools p
     WHERE p.id = p_pool_id AND family(p.range_start) = 4
       AND NOT EXISTS (SELECT 1 FROM ip_pools_filled f WHERE f.pool_id = p.id);
    IF v_start IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT r.a INTO v_found
      FROM (SELECT v_start + floor(random() * v_size)::bigint AS a
              FROM generate_series(1, 8)) r
     WHERE NOT EXISTS (SELECT 1 FROM ip_leases l
                        WHERE l.pool_id = p_pool_id AND l.address = r.a)
     LIMIT 1;
    IF v_found IS NULL THEN
        v_pivot := v_start + floor(random() * v_size)::bigint;
        v_found := coalesce(ebs_pool_gap(p_pool_id, v_pivot, v_end),
                            ebs_pool_gap(p_pool_id, v_start, v_pivot));
    END IF;
    IF v_found IS NULL THEN
        INSERT INTO ip_pools_filled (pool_id) VALUES (p_pool_id) ON CONFLICT DO NOTHING;
    END IF;
    RETURN v_found;
END $$;

-- Lease an address for one Access-Accept. Returns '<lease id> <address>', or
-- 'pool_exhausted' when no pool of the chain has one (or the pool is gone), or 'nas_pool'
-- when the pool is not ours to lease (IPv6: the NAS gets Framed-Pool and assigns).
-- One statement from rlm_sql, committed on return.
CREATE FUNCTION ebs_radius_lease(
    p_subaccount_id bigint,
    p_pool text,
    p_nas_ip inet DEFAULT NULL,
    p_offer_seconds integer DEFAULT 60
) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_pools integer[] := ebs_pool_chain(p_pool);
    v_pool integer;
    v_expires timestamptz := now() + make_interval(secs => greatest(p_offer_seconds, 1));
    v_single boolean;
    v_id bigint;
    v_address inet;
    v_try integer;
BEGIN
    IF v_pools IS NULL THEN
        RETURN 'pool_exhausted';
    END IF;
    IF (SELECT family(range_start) FROM ip_pools WHERE id = v_pools[1]) <> 4 THEN
        RETURN 'nas_pool';
    END IF;
    SELECT sa.simultaneous_use = 1 INTO v_single FROM subaccounts sa WHERE sa.id = p_subaccount_id;

    -- Sticky: the subscriber's own lease in the chain. An active one is taken over when
    -- the subscriber may have one session (the decision found the old one stale) or its
    -- session is closed; otherwise each session needs an address of its own.
    SELECT l.id, l.address INTO v_id, v_address
      FROM ip_leases l JOIN ip_pools p ON p.id = l.pool_id
     WHERE l.subaccount_id = p_subaccount_id AND l.pool_id = ANY (v_pools)
       AND l.address BETWEEN p.range_start AND p.range_end
       AND (l.state <> 'active' OR coalesce(v_single, false) OR NOT EXISTS (
                SELECT 1 FROM sessions_open o WHERE o.acct_unique_id = l.session_key))
     ORDER BY l.state = 'active', array_position(v_pools, l.pool_id), l.expires_at DESC
     LIMIT 1
       FOR UPDATE OF l SKIP LOCKED;

    IF v_id IS NULL THEN
        FOREACH v_pool IN ARRAY v_pools LOOP
            CONTINUE WHEN (SELECT family(range_start) FROM ip_pools WHERE id = v_pool) <> 4;
            -- An expired or freed row, longest expired first. An active lease whose
            -- session is still open stays its session's whatever its expiry says (an
            -- outage may have held its interims back; the sweep decides when it is dead).
            SELECT l.id, l.address INTO v_id, v_address
              FROM ip_leases l JOIN ip_pools p ON p.id = l.pool_id
             WHERE l.pool_id = v_pool AND l.expires_at <= now()
               AND l.address BETWEEN p.range_start AND p.range_end
               AND (l.state <> 'active' OR NOT EXISTS (
                        SELECT 1 FROM sessions_open o WHERE o.acct_unique_id = l.session_key))
             ORDER BY l.expires_at
             LIMIT 1
               FOR UPDATE OF l SKIP LOCKED;
            EXIT WHEN v_id IS NOT NULL;
            -- A never-leased address; a concurrent allocation may insert the same one
            -- first (the unique key says so): try another.
            FOR v_try IN 1..8 LOOP
                v_address := ebs_pool_hole(v_pool);
                EXIT WHEN v_address IS NULL;
                INSERT INTO ip_leases (pool_id, address, state, subaccount_id, nas_ip,
                                       leased_at, expires_at)
                VALUES (v_pool, v_address, 'offered', p_subaccount_id, p_nas_ip, now(),
                        v_expires)
                ON CONFLICT (pool_id, address) DO NOTHING
                RETURNING id INTO v_id;
                EXIT WHEN v_id IS NOT NULL;
            END LOOP;
            IF v_id IS NOT NULL THEN
                RETURN v_id || ' ' || host(v_address);
            END IF;
        END LOOP;
    END IF;

    IF v_id IS NULL THEN
        RETURN 'pool_exhausted';
    END IF;
    UPDATE ip_leases
       SET state = 'offered', subaccount_id = p_subaccount_id, session_key = NULL,
           nas_ip = p_nas_ip, leased_at = now(),
           expires_at = CASE WHEN state = 'active' THEN greatest(expires_at, v_expires)
                             ELSE v_expires END
     WHERE id = v_id;
    RETURN v_id || ' ' || host(v_address);
END $$;

COMMENT ON FUNCTION ebs_radius_lease(bigint, text, inet, integer) IS
    'Lease an address from a pool chain for one Access-Accept (FreeRADIUS post-auth).';

-- The Class of an Access-Accept, "ebs:<subaccount id>:<lease id>" (lease 0: none), as
-- accounting sees it: rlm_sql expands the octets attribute as 0x-hex. NULLs when the
-- Class is absent or not ours.
CREATE FUNCTION ebs_class_ids(p_class text, OUT subaccount_id bigint, OUT lease_id bigint)
    LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v_text text := p_class;
    v_match text[];
BEGIN
    IF v_text ~ '^0x([0-9A-Fa-f]{2})+$' THEN
        v_text := encode(decode(substr(v_text, 3), 'hex'), 'escape');
    END IF;
    v_match := regexp_match(coalesce(v_text, ''), '^ebs:([0-9]{1,18}):([0-9]{1,18})$');
    IF v_match IS NOT NULL THEN
        subaccount_id := v_match[1]::bigint;
        lease_id := nullif(v_match[2]::bigint, 0);
    END IF;
END $$;

-- Start or Interim of a session: its lease becomes (or stays) active for p_hold_seconds.
-- Found by the session key once linked; before that, by the lease id the Class names or,
-- from a NAS that does not echo Class, by the subscriber and the address it reports. A
-- lease taken over by someone else meanwhile (its subaccount changed) is left alone.
CREATE FUNCTION ebs_lease_touch(
    p_acct_unique_id text, p_lease_id bigint, p_subaccount_id bigint, p_framed_ip inet,
    p_hold_seconds integer
) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_expires timestamptz := now() + make_interval(secs => 3 * greatest(p_hold_seconds, 60));
BEGIN
    UPDATE ip_leases SET state = 'active', expires_at = v_expires
     WHERE session_key = p_acct_unique_id;
    IF FOUND OR p_subaccount_id IS NULL THEN
        RETURN;
    END IF;
    UPDATE ip_leases
       SET state = 'active', session_key = p_acct_unique_id, expires_at = v_expires
     WHERE id = (SELECT l.id FROM ip_leases l
                  WHERE l.subaccount_id = p_subaccount_id
                    AND CASE WHEN p_lease_id IS NOT NULL THEN l.id = p_lease_id
                             ELSE l.address = p_framed_ip AND l.state <> 'free' END
                    AND (p_framed_ip IS NULL OR l.address = p_framed_ip)
                  ORDER BY l.state = 'offered' DESC, l.leased_at DESC
                  LIMIT 1);
END $$;

-- Every way a session closes deletes its sessions_open row (Stop, Accounting-On/Off in
-- ebs_acct_apply, the stale-session sweep in billing/sessions.py): one statement trigger
-- frees their leases, set-based, whoever deleted them.
CREATE FUNCTION ebs_leases_free_closed() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ip_leases l
       SET state = 'free', session_key = NULL, expires_at = now()
      FROM closed c
     WHERE l.session_key = c.acct_unique_id;
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_open_free_leases
    AFTER DELETE ON sessions_open
    REFERENCING OLD TABLE AS closed
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_leases_free_closed();

-- Custom reply attributes per tariff and per NAS (NULL: any), each for a normal accept,
-- a guest-pool accept, or both. rlm_ebs adds them after its own replies, the most
-- specific row last (so ':=' on a tariff-and-NAS row wins). A name FreeRADIUS does not
-- know is logged and skipped by the server, never a failed request.
CREATE TABLE radius_reply_attributes (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tariff_id integer REFERENCES tariffs (id) ON DELETE CASCADE,
    nas_id integer REFERENCES nas (id) ON DELETE CASCADE,
    attribute text NOT NULL CHECK (attribute ~ '^[A-Za-z][A-Za-z0-9-]{0,62}$'),
    op text NOT NULL DEFAULT '+=' CHECK (op IN ('=', ':=', '+=')),
    value text NOT NULL CHECK (octet_length(value) BETWEEN 1 AND 253),
    applies_when text NOT NULL DEFAULT 'accept'
        CHECK (applies_when IN ('accept', 'guest', 'always')),
    description text NOT NULL DEFAULT ''
);
CREATE INDEX radius_reply_attributes_tariff_idx ON radius_reply_attributes (tariff_id);
CREATE INDEX radius_reply_attributes_nas_idx ON radius_reply_attributes (nas_id);

-- The check-query rows carrying them (EBS-Reply-Attr, read by rlm_ebs/reply.py):
-- "applies;op;attribute;value", the value percent-encoded (quotes and backslashes too,
-- which FreeRADIUS would otherwise interpret). auth.conf's check query appends them to
-- ebs_radius_check()'s rows in the same statement, from the subaccount and NAS its
-- EBS-Facts row names (sid=, nas=), so the function that finds the subscriber stays as it
-- is. Nothing is looked up while the table is empty.
CREATE FUNCTION ebs_radius_reply_rows(p_username text, p_facts text)
    RETURNS TABLE (id bigint, username text, attribute text, value text, op text)
    LANGUAGE sql STABLE
BEGIN ATOMIC
    WITH facts AS (
        SELECT (regexp_match(p_facts, '(?:^|;)sid=([0-9]{1,18})(?:;|$)'))[1]::bigint AS sid,
               (regexp_match(p_facts, '(?:^|;)nas=([0-9]{1,9})(?:;|$)'))[1]::integer AS nas_id
         WHERE EXISTS (SELECT 1 FROM radius_reply_attributes)
    ), tariff AS (
        SELECT (SELECT at.tariff_id
                  FROM subaccounts sa
                  JOIN account_tariffs at ON at.account_id = sa.account_id
                 WHERE sa.id = facts.sid AND at.assigned_at <= now()
                 ORDER BY at.assigned_at DESC
                 LIMIT 1) AS tariff_id,
               facts.nas_id
          FROM facts
    )
    SELECT 6::bigint, p_username, 'EBS-Reply-Attr'::text,
           r.applies_when || ';' || r.op || ';' || r.attribute || ';'
               || replace(replace(replace(ebs_fact_text(r.value), '\', '%5C'), '"', '%22'),
                          '''', '%27'),
           '+='::text
      FROM tariff
      JOIN radius_reply_attributes r
        ON (r.tariff_id IS NULL OR r.tariff_id = tariff.tariff_id)
       AND (r.nas_id IS NULL OR r.nas_id = tariff.nas_id)
     ORDER BY (r.tariff_id IS NOT NULL)::int + (r.nas_id IS NOT NULL)::int, r.id;
END;

-- Accounting with leases and Class: ebs_acct_apply as before (202611232050_accounting.sql
-- explains its rules), plus a last argument, the Class the NAS echoes: its subaccount id
-- wins over the User-Name lookup (a DHCP subscriber's User-Name is a MAC), and Start and
-- Interim confirm / hold the session's lease (ebs_lease_touch). Closing frees it (the
-- trigger above). The signature grows, so the old function goes first.
CREATE FUNCTION ebs_acct_subaccount(p_class text, p_username text)
    RETURNS bigint LANGUAGE sql STABLE
    RETURN coalesce(
        (SELECT s.id FROM subaccounts s WHERE s.id = (ebs_class_ids(p_class)).subaccount_id),
        (SELECT s.id FROM subaccounts s WHERE s.username = p_username));

DROP FUNCTION ebs_acct_apply(text, text, text, text, inet, inet, text, text, text,
    bigint, bigint, bigint, bigint, integer, timestamptz, text, integer, integer, boolean);

CREATE FUNCTION ebs_acct_apply(
    p_status text,
    p_acct_unique_id text,
    p_acct_session_id text,
    p_username text,
    p_nas_ip inet,
    p_framed_ip inet,
    p_calling text,
    p_called text,
    p_nas_port_id text,
    p_input_octets bigint,
    p_input_gigawords bigint,
    p_output_octets bigint,
    p_output_gigawords bigint,
    p_session_time integer,
    p_event_time timestamptz,
    p_terminate_cause text,
    p_interim_interval integer,
    p_delay integer DEFAULT 0,
    p_rlm_sql_escaped boolean DEFAULT false,
    p_class text DEFAULT NULL
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_in bigint := coalesce(p_input_gigawords, 0) * 4294967296 + coalesce(p_input_octets, 0);
    v_out bigint := coalesce(p_output_gigawords, 0) * 4294967296 + coalesce(p_output_octets, 0);
    v_time integer := greatest(coalesce(p_session_time, 0), 0);
    -- When the NAS sent no Event-Timestamp: arrival minus Acct-Delay-Time.
    v_event timestamptz := coalesce(
        p_event_time, now() - make_interval(secs => greatest(coalesce(p_delay, 0), 0)));
    v_cause text := coalesce(p_terminate_cause, '');
    -- No history row of this session can have stopped before it started: look no further
    -- back (a day of NAS clock skew allowed), so only recent partitions are probed.
    v_oldest timestamptz := v_event - make_interval(secs => v_time) - interval '1 day';
    v_found boolean;
    v_closed sessions_history%ROWTYPE;
    v_moved integer;
    v_sid bigint;
    v_interim integer;
BEGIN
    IF p_status IN ('Accounting-On', 'Accounting-Off') THEN
        WITH gone AS (
            DELETE FROM sessions_open WHERE nas_ip = p_nas_ip RETURNING *
        )
        INSERT INTO sessions_history (
            acct_unique_id, acct_session_id, subaccount_id, account_id, nas_id, nas_ip,
            username, framed_ip, calling_station_id, called_station_id, nas_port_id,
            started_at, stopped_at, input_octets, output_octets, session_time,
            terminate_cause)
        SELECT acct_unique_id, acct_session_id, subaccount_id, account_id, nas_id, nas_ip,
               username, framed_ip, calling_station_id, called_station_id, nas_port_id,
               started_at, greatest(started_at, v_event), input_octets, output_octets,
               session_time, 'NAS-Reboot'
          FROM gone
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_moved = ROW_COUNT;
        RETURN 'nas-reboot:' || v_moved;
    END IF;

    IF p_acct_unique_id IS NULL OR p_acct_unique_id = '' OR p_nas_ip IS NULL THEN
        RETURN 'ignored:no-key';
    END IF;

    IF p_rlm_sql_escaped AND p_status = 'Stop' THEN
        v_cause := ebs_rlm_sql_text(v_cause);
    END IF;

    IF p_status = 'Stop' THEN
        WITH gone AS (
            DELETE FROM sessions_open WHERE acct_unique_id = p_acct_unique_id RETURNING *
        )
        INSERT INTO sessions_history (
            acct_unique_id, acct_session_id, subaccount_id, account_id, nas_id, nas_ip,
            username, framed_ip, calling_station_id, called_station_id, nas_port_id,
            started_at, stopped_at, input_octets, output_octets, session_time,
            terminate_cause)
        SELECT acct_unique_id, acct_session_id, subaccount_id, account_id, nas_id, nas_ip,
               username, coalesce(p_framed_ip, framed_ip), calling_station_id,
               called_station_id, nas_port_id, started_at,
               -- Deterministic from the packet and the row, never from the arrival time.
               coalesce(p_event_time,
                        started_at + make_interval(secs => greatest(session_time, v_time))),
               greatest(input_octets, v_in), greatest(output_octets, v_out),
               greatest(session_time, v_time), v_cause
          FROM gone
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_moved = ROW_COUNT;
        IF v_moved > 0 THEN
            RETURN 'stopped';
        END IF;

        -- No open row: a duplicate Stop, a Stop for a swept session, or one with no Start.
        UPDATE sessions_history
           SET input_octets = greatest(input_octets, v_in),
               output_octets = greatest(output_octets, v_out),
               session_time = greatest(session_time, v_time),
               terminate_cause = v_cause
         WHERE acct_unique_id = p_acct_unique_id AND stopped_at >= v_oldest
           AND terminate_cause = 'Stale-Session';
        IF FOUND THEN
            RETURN 'stopped:after-sweep';
        END IF;
        PERFORM 1 FROM sessions_history
         WHERE acct_unique_id = p_acct_unique_id AND stopped_at >= v_oldest;
        IF FOUND THEN
            RETURN 'duplicate';
        END IF;
        IF p_rlm_sql_escaped AND strpos(concat(p_acct_session_id, p_username, p_calling,
                                               p_called, p_nas_port_id), '=') > 0 THEN
            p_acct_session_id := ebs_rlm_sql_text(p_acct_session_id);
            p_username := ebs_rlm_sql_text(p_username);
            p_calling := ebs_rlm_sql_text(p_calling);
            p_called := ebs_rlm_sql_text(p_called);
            p_nas_port_id := ebs_rlm_sql_text(p_nas_port_id);
        END IF;
        INSERT INTO sessions_history (
            acct_unique_id, acct_session_id, subaccount_id, account_id, nas_id, nas_ip,
            username, framed_ip, calling_station_id, called_station_id, nas_port_id,
            started_at, stopped_at, input_octets, output_octets, session_time,
            terminate_cause)
        SELECT p_acct_unique_id, coalesce(p_acct_session_id, ''), s.id, s.account_id, n.id,
               p_nas_ip, coalesce(p_username, ''), p_framed_ip, coalesce(p_calling, ''),
               coalesce(p_called, ''), coalesce(p_nas_port_id, ''),
               v_event - make_interval(secs => v_time), v_event, v_in, v_out, v_time, v_cause
          FROM (SELECT 1) AS one
          LEFT JOIN subaccounts s ON s.id = ebs_acct_subaccount(p_class, p_username)
          LEFT JOIN nas n ON n.ip_address = p_nas_ip
        ON CONFLICT DO NOTHING;
        RETURN 'stopped:no-start';
    END IF;

    IF p_status NOT IN ('Start', 'Interim-Update', 'Alive') THEN
        RETURN 'ignored:' || coalesce(p_status, '');
    END IF;

    -- The fast path: the session is open (almost every Interim-Update).
    UPDATE sessions_open
       SET started_at = CASE WHEN p_status = 'Start' THEN v_event ELSE started_at END,
           updated_at = greatest(updated_at, now()),
           framed_ip = coalesce(p_framed_ip, framed_ip),
           input_octets = greatest(input_octets, v_in),
           output_octets = greatest(output_octets, v_out),
           session_time = greatest(session_time, v_time),
           interim_interval = coalesce(p_interim_interval, interim_interval)
     WHERE acct_unique_id = p_acct_unique_id
    RETURNING subaccount_id, interim_interval INTO v_sid, v_interim;
    IF FOUND THEN
        PERFORM ebs_lease_touch(p_acct_unique_id, (ebs_class_ids(p_class)).lease_id, v_sid,
                                p_framed_ip, v_interim);
        RETURN 'updated';
    END IF;

    -- Closed already? A late packet must not reopen a stopped session; the sweep's guess
    -- that it was dead is undone by this proof of life.
    SELECT * INTO v_closed FROM sessions_history
     WHERE acct_unique_id = p_acct_unique_id AND stopped_at >= v_oldest
     ORDER BY (terminate_cause = 'Stale-Session'), stopped_at DESC
     LIMIT 1;
    v_found := FOUND;
    IF v_found AND v_closed.terminate_cause <> 'Stale-Session' THEN
        RETURN 'ignored:closed';
    END IF;
    IF v_found THEN
        DELETE FROM sessions_history
         WHERE acct_unique_id = p_acct_unique_id AND stopped_at = v_closed.stopped_at;
    END IF;

    IF p_rlm_sql_escaped AND strpos(concat(p_acct_session_id, p_username, p_calling,
                                           p_called, p_nas_port_id), '=') > 0 THEN
        p_acct_session_id := ebs_rlm_sql_text(p_acct_session_id);
        p_username := ebs_rlm_sql_text(p_username);
        p_calling := ebs_rlm_sql_text(p_calling);
        p_called := ebs_rlm_sql_text(p_called);
        p_nas_port_id := ebs_rlm_sql_text(p_nas_port_id);
    END IF;
    INSERT INTO sessions_open AS o (
        acct_unique_id, acct_session_id, subaccount_id, account_id, nas_id, nas_ip,
        username, framed_ip, calling_station_id, called_station_id, nas_port_id,
        started_at, updated_at, input_octets, output_octets, session_time, interim_interval)
    SELECT p_acct_unique_id, coalesce(p_acct_session_id, ''), s.id, s.account_id, n.id,
           p_nas_ip, coalesce(p_username, ''), p_framed_ip, coalesce(p_calling, ''),
           coalesce(p_called, ''), coalesce(p_nas_port_id, ''),
           CASE WHEN v_found THEN v_closed.started_at
                WHEN p_status = 'Start' THEN v_event
                ELSE v_event - make_interval(secs => v_time) END,
           now(),
           greatest(v_in, coalesce(v_closed.input_octets, 0)),
           greatest(v_out, coalesce(v_closed.output_octets, 0)),
           greatest(v_time, coalesce(v_closed.session_time, 0)),
           coalesce(p_interim_interval, n.acct_interim_interval, 300)
      FROM (SELECT 1) AS one
      LEFT JOIN subaccounts s ON s.id = ebs_acct_subaccount(p_class, p_username)
      LEFT JOIN nas n ON n.ip_address = p_nas_ip
    ON CONFLICT (acct_unique_id) DO UPDATE
       SET started_at = CASE WHEN p_status = 'Start' THEN excluded.started_at
                             ELSE o.started_at END,
           updated_at = greatest(o.updated_at, excluded.updated_at),
           framed_ip = coalesce(excluded.framed_ip, o.framed_ip),
           input_octets = greatest(o.input_octets, excluded.input_octets),
           output_octets = greatest(o.output_octets, excluded.output_octets),
           session_time = greatest(o.session_time, excluded.session_time),
           interim_interval = coalesce(p_interim_interval, o.interim_interval)
    RETURNING o.subaccount_id, o.interim_interval INTO v_sid, v_interim;
    PERFORM ebs_lease_touch(p_acct_unique_id, (ebs_class_ids(p_class)).lease_id, v_sid,
                            p_framed_ip, v_interim);
    RETURN CASE WHEN v_found THEN 'reopened' ELSE 'created' END;
END $$;

COMMENT ON FUNCTION ebs_acct_apply(text, text, text, text, inet, inet, text, text, text,
    bigint, bigint, bigint, bigint, integer, timestamptz, text, integer, integer, boolean, text)
    IS 'Apply one RADIUS Accounting-Request (called by FreeRADIUS rlm_sql); idempotent.';
