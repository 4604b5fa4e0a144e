-- A staff member's logout ends every session and refresh token issued before it: the
-- counter is part of the stamp they carry (webapp/session_guard.py), and a logout
-- advances it. A copied session cookie is worth nothing after its owner logs out.
ALTER TABLE ab_user ADD COLUMN session_epoch integer NOT NULL DEFAULT 0;
