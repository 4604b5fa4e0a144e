-- How long each Access-Request took to answer, for the RADIUS latency per NAS that the
-- monitoring serves (billing/health.py): microseconds from the request's arrival at
-- FreeRADIUS to its log row in post-auth, after the decision, the password check and the
-- lease. NULL for rows written later from the degraded mode's auth spool.
ALTER TABLE auth_log ADD COLUMN answer_us integer;

-- ebs_auth_log_write takes the arrival time now (sql/functions/ebs_auth_log_write.sql):
-- the six-argument form goes, so that a call is never ambiguous between the two.
DROP FUNCTION IF EXISTS ebs_auth_log_write(text, inet, text, text, boolean, boolean);
