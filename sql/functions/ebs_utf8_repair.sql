-- Bytes to text, each maximal invalid subsequence (a byte that starts no sequence, or a
-- lead byte with the continuation bytes that were valid before the sequence broke) as
-- one U+FFFD; valid runs are decoded whole.
CREATE OR REPLACE FUNCTION ebs_utf8_repair(b bytea) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = public, pg_temp
    AS $$
DECLARE
    n integer := length(b);
    i integer := 0;      -- the byte being read (0-based)
    run integer := 0;    -- where the pending valid run starts
    lead integer;
    need integer;        -- continuation bytes the lead byte asks for
    got integer;         -- continuation bytes found valid
    c integer;
    repaired text := '';
BEGIN
    WHILE i < n LOOP
        lead := get_byte(b, i);
        IF lead BETWEEN 1 AND 127 THEN
            i := i + 1;
            CONTINUE;
        END IF;
        need := CASE WHEN lead BETWEEN 194 AND 223 THEN 1
                     WHEN lead BETWEEN 224 AND 239 THEN 2
                     WHEN lead BETWEEN 240 AND 244 THEN 3
                     ELSE 0 END;
        got := 0;
        WHILE got < need AND i + 1 + got < n LOOP
            c := get_byte(b, i + 1 + got);
            -- The second byte's range depends on the lead (no overlongs, no surrogates,
            -- nothing above U+10FFFF); later ones are plain continuation bytes.
            EXIT WHEN c < CASE WHEN got > 0 THEN 128
                               WHEN lead = 224 THEN 160 WHEN lead = 240 THEN 144
                               ELSE 128 END
                   OR c > CASE WHEN got > 0 THEN 191
                               WHEN lead = 237 THEN 159 WHEN lead = 244 THEN 143
                               ELSE 191 END;
            got := got + 1;
        END LOOP;
        IF need > 0 AND got = need THEN
            i := i + 1 + need;
            CONTINUE;
        END IF;
        repaired := repaired || convert_from(substring(b FROM run + 1 FOR i - run), 'UTF8')
                    || U&'\FFFD';
        i := i + 1 + got;
        run := i;
    END LOOP;
    RETURN repaired || convert_from(substring(b FROM run + 1), 'UTF8');
END $$;

REVOKE ALL ON FUNCTION ebs_utf8_repair(b bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_utf8_repair(b bytea) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
