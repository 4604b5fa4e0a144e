-- rlm_sql (3.2.1's PostgreSQL driver) escapes every value it puts into a query by
-- replacing bytes outside its safe_characters with "=XX" ('=' itself included), which
-- makes quotes harmless but would store o'brien as o=27brien. ebs_rlm_sql_text() gives
-- the original back: no '=' means nothing was escaped; otherwise the bytes are rebuilt,
-- and a value that is not valid UTF-8 is kept as it arrived, escaped, rather than
-- failing the packet.
CREATE OR REPLACE FUNCTION ebs_rlm_sql_decode(s text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT
    SET search_path = public, pg_temp
    AS $$
DECLARE
    decoded bytea := ''::bytea;
    part text[];
BEGIN
    FOR part IN SELECT regexp_matches(s, '=([0-9A-Fa-f]{2})|([^=]+|=)', 'g') LOOP
        IF part[1] IS NOT NULL THEN
            decoded := decoded || decode(part[1], 'hex');
        ELSE
            decoded := decoded || convert_to(part[2], 'UTF8');
        END IF;
    END LOOP;
    RETURN convert_from(decoded, 'UTF8');
EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character THEN
    RETURN s;
END $$;

REVOKE ALL ON FUNCTION ebs_rlm_sql_decode(s text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_rlm_sql_decode(s text) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
