-- A phone number as the digits that tell subscribers apart, for search: everything but
-- digits dropped, and a Russian number written in full (11 digits starting with 7 or 8:
-- +7 916 123-45-01, 8 916 123 45 01) cut to its last ten, so 89161234501, 9161234501 and
-- +7 (916) 123-45-01 are one key. Other lengths (a short internal number, a foreign one)
-- keep all their digits. billing.account_search.phone_digits() is the same rule in
-- Python; accounts_phone_digits_idx is built on this function, so a change here must come
-- with a migration that rebuilds that index.
CREATE OR REPLACE FUNCTION ebs_phone_digits(phone text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = public, pg_temp
    AS $$
SELECT CASE WHEN length(d) = 11 AND left(d, 1) IN ('7', '8') THEN right(d, 10) ELSE d END
  FROM (SELECT regexp_replace(phone, '[^0-9]', '', 'g') AS d) digits
$$;

COMMENT ON FUNCTION ebs_phone_digits(text) IS
    'A phone as its search key: digits only, a Russian 7/8 prefix of 11 digits dropped.';

REVOKE ALL ON FUNCTION ebs_phone_digits(phone text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_phone_digits(phone text) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
