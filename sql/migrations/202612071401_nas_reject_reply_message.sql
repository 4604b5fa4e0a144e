-- A NAS that shows an Access-Reject's Reply-Message to the subscriber (a hotspot's login
-- page, a PPPoE client's error line) gets a short text saying why (rlm_ebs/reject_reply.py);
-- off by default: many NASes log it and show nothing, and some subscribers' software
-- shows it raw.
ALTER TABLE nas ADD COLUMN reject_reply_message boolean NOT NULL DEFAULT false;
GRANT SELECT (reject_reply_message) ON nas TO ebs_reports;
