-- Lossless text from rlm_sql's live accounting queries.
--
-- rlm_sql (3.2.1) puts every expanded value through two encodings before PostgreSQL
-- sees it: the attribute is printed FreeRADIUS-style (a line break becomes the two
-- characters \n, indistinguishable from a NAS that sent a backslash and an n), then
-- bytes outside safe_characters become =XX. The live queries (mods-config/sql/
-- accounting.conf) therefore pass each text attribute as %{hex:Attribute}, the raw bytes
-- in hex, which nothing re-encodes, and ebs_hex_text() turns them back into text here.
--
-- A NAS can send any bytes; a text column holds only UTF-8 without NUL. Bytes that are
-- not UTF-8 become U+FFFD, one per maximal invalid subsequence, exactly as Python's
-- bytes.decode('utf-8', 'replace') does for the spool (stack/acct_detail.py), so a
-- packet is stored the same whichever way it arrives; the rest of the value stays
-- readable and searchable, the packet is never refused for it, and the live mode's
-- detail file still has the raw bytes. NUL, which text cannot hold, becomes U+FFFD too.
--
-- The common case, valid UTF-8, is one convert_from; the exception block costs about
-- 2 microseconds a call (measured here), a few per packet, against a commit's hundreds.
CREATE OR REPLACE FUNCTION ebs_hex_text(h text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = public, pg_temp
    AS $$
BEGIN
    RETURN convert_from(decode(h, 'hex'), 'UTF8');
EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character THEN
    RETURN ebs_utf8_repair(decode(h, 'hex'));
END $$;

COMMENT ON FUNCTION ebs_hex_text(text) IS
    'Text from %{hex:...} (rlm_sql accounting): invalid UTF-8 and NUL as U+FFFD.';

REVOKE ALL ON FUNCTION ebs_hex_text(h text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_hex_text(h text) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
