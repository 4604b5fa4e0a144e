-- The auth log filtered by NAS (webapp/views/operations.py AuthLogView): "what did this
-- NAS ask, newest first" is one range of this index per month partition, read backwards
-- and stopped after a page, at any number of rows.
CREATE INDEX auth_log_nas_ip_idx ON auth_log (nas_ip, logged_at);
