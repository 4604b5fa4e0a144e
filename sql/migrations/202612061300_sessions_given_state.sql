-- What a live session was given: the state its login rendered ('speed:<MikroTik form>',
-- 'speed:none' for no limit, 'guest' for the guest pool), carried in the Access-Accept's
-- Class and stored with the Accounting-Start, then replaced by every CoA the NAS ACKs.
-- ebs.enforce_access compares it with what is due now (billing/enforcement.py,
-- worker/live_sessions.py), so a tariff change, a speed edit or a status change made by
-- any path reaches the session. NULL: the login did not say (a NAS that does not echo
-- the Class, a session older than this column).
ALTER TABLE sessions_open ADD COLUMN given_state text;
