-- RADIUS clients hardened after BlastRADIUS.
--
-- A NAS secret is at least 16 characters (the admin and the set-up generate 43 when none
-- is given, billing/nas_secrets.py). NOT VALID: a NAS already configured with a shorter
-- secret keeps answering; the next edit of its row must give it a longer one (the admin
-- form says so), since changing it here would cut the NAS off until it is reconfigured.
ALTER TABLE nas DROP CONSTRAINT nas_secret_check;
ALTER TABLE nas ADD CONSTRAINT nas_secret_length CHECK (length(secret) >= 16) NOT VALID;

-- A NAS that serves DHCP/IPoE, where it vouches for the client it saw: only requests from
-- such a NAS may find a subscriber without a password (option 82, a MAC, a MAC typed as
-- User-Name, Framed-IP-Address; ebs_radius_check). Off for every NAS until the admin
-- marks it.
ALTER TABLE nas ADD COLUMN dhcp_ipoe boolean NOT NULL DEFAULT false;
