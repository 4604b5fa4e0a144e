-- ebs_radius_check takes what rlm_sql sent, as text, and decodes it itself
-- (sql/functions/ebs_radius_check.sql): the typed form goes, so that a call is never
-- ambiguous between the two.
DROP FUNCTION IF EXISTS ebs_radius_check(text, inet, text, inet, text, text, inet);
