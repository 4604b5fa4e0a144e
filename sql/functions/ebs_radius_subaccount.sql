-- Finding the subscriber of an Access-Request by more than its User-Name, still in the
-- one rlm_sql query per request (ebs_radius_check; freeradius_conf/mods-config/sql/auth.conf):
--
--   1. User-Name                      PPP, HotSpot logins
--   2. DHCP option 82                 the relay's Agent-Remote-Id / Agent-Circuit-Id
--                                     (ADSL-Agent-Remote-Id / -Circuit-Id, RFC 4679),
--                                     either exactly as bound on the subaccount
--                                     (option82_remote_id / option82_circuit_id) or as a
--                                     switch and a port (switches, subaccount_switch_ports)
--   3. MAC                            Calling-Station-Id, else a User-Name that is a MAC
--                                     (DHCP servers send one), in any common spelling
--   4. IP address                     the request's Framed-IP-Address (IPoE)
--
-- The port comes before the MAC: a port is where the cable is, a MAC is what the
-- subscriber's device says. Each step is one indexed lookup and runs only when the
-- steps before it found nothing. EBS-Facts says which matched (by=login|opt82|mac|ip);
-- rlm_ebs admits anything but a login only for DHCP/IPoE requests.
--
-- The NAS is the RADIUS client the packet came from (its source address, which
-- clients.conf — rendered from this table — vouched for with the NAS's secret); the
-- NAS-IP-Address attribute, which a NAS may leave out or fill with another interface's
-- address, only names it when the source matches no row.
-- Which subaccount a request is for, and how it was found (see the top of this file).
CREATE OR REPLACE FUNCTION ebs_radius_subaccount(
    p_username text, p_calling_station_id text, p_framed_ip inet,
    p_remote_id text, p_circuit_id text,
    OUT subaccount_id bigint, OUT found_by text
)
    LANGUAGE plpgsql STABLE
    SET search_path = public, pg_temp
    AS $$
DECLARE
    v_remote bytea := ebs_option82_bytes(p_remote_id);
    v_circuit bytea := ebs_option82_bytes(p_circuit_id);
    v_mac macaddr;
BEGIN
    SELECT sa.id, 'login' INTO subaccount_id, found_by
      FROM subaccounts sa WHERE sa.username = p_username;
    IF subaccount_id IS NULL AND v_remote IS NOT NULL THEN
        SELECT sa.id, 'opt82' INTO subaccount_id, found_by
          FROM subaccounts sa
         WHERE sa.option82_remote_id = ebs_option82_remote_id(v_remote)
           AND sa.option82_circuit_id = ebs_option82_text(v_circuit);
        IF subaccount_id IS NULL THEN
            SELECT sp.subaccount_id, 'opt82' INTO subaccount_id, found_by
              FROM switches sw
              JOIN subaccount_switch_ports sp ON sp.switch_id = sw.id
             WHERE sw.remote_id = ebs_option82_remote_id(v_remote)
               AND sp.port = ebs_option82_port(v_circuit);
        END IF;
    END IF;
    IF subaccount_id IS NULL THEN
        v_mac := coalesce(ebs_try_macaddr(p_calling_station_id), ebs_try_macaddr(p_username));
        IF v_mac IS NOT NULL THEN
            SELECT sa.id, 'mac' INTO subaccount_id, found_by
              FROM subaccounts sa WHERE sa.mac_address = v_mac;
        END IF;
    END IF;
    IF subaccount_id IS NULL AND p_framed_ip IS NOT NULL THEN
        SELECT sa.id, 'ip' INTO subaccount_id, found_by
          FROM subaccounts sa WHERE sa.ip_address = p_framed_ip;
    END IF;
END $$;

REVOKE ALL ON FUNCTION ebs_radius_subaccount(p_username text, p_calling_station_id text, p_framed_ip inet, p_remote_id text, p_circuit_id text, OUT subaccount_id bigint, OUT found_by text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_radius_subaccount(p_username text, p_calling_station_id text, p_framed_ip inet, p_remote_id text, p_circuit_id text, OUT subaccount_id bigint, OUT found_by text) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
