-- Subscribers are searched as people type them (billing/account_search.py), every form
-- on an index at 500,000 accounts:
--   * a phone by its digits (ebs_phone_digits: 89161234501, 9161234501 and
--     +7 916 123-45-01 are one key);
--   * a contract or login by prefix (text_pattern_ops: the database's collation is not
--     C, so the unique indexes cannot serve LIKE 'abc%');
--   * a name or an address by any part of it, three characters or more (pg_trgm's GIN
--     indexes serve ILIKE '%садовая%'); the address is the street with the house, so
--     "Садовая 5" finds "ул. Садовая", house 5.
-- pg_trgm itself is created by the cluster's superuser with the database
-- (stack/db_roles.py prepare_database): the owner that runs migrations cannot.
CREATE INDEX accounts_phone_digits_idx ON accounts (ebs_phone_digits(phone));
CREATE INDEX accounts_contract_prefix_idx ON accounts (contract text_pattern_ops);
CREATE INDEX accounts_login_prefix_idx ON accounts (login text_pattern_ops);
CREATE INDEX accounts_full_name_trgm_idx ON accounts USING gin (full_name gin_trgm_ops);
CREATE INDEX accounts_address_trgm_idx ON accounts USING gin ((street || ' ' || house) gin_trgm_ops);
