-- What the login gave, from the Class of its Access-Accept
-- ("ebs:<subaccount id>:<lease id>:<given>", rlm_ebs's EBS-Given put there by
-- freeradius_conf/mods-config/sql/lease.post-auth): 'speed:<rate limit>' or 'guest'. The
-- accounting stores it on the open session (ebs_acct_apply), and ebs.enforce_access
-- compares it with what is due (billing/enforcement.py). NULL when the Class is absent,
-- not ours, or from a login that did not say.
CREATE OR REPLACE FUNCTION ebs_class_given(p_class text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = public, pg_temp
    AS $$
DECLARE
    v_text text := p_class;
BEGIN
    IF v_text ~ '^0x([0-9A-Fa-f]{2})+$' THEN
        v_text := encode(decode(substr(v_text, 3), 'hex'), 'escape');
    END IF;
    RETURN (regexp_match(coalesce(v_text, ''),
                         '^ebs:[0-9]{1,18}:[0-9]{1,18}:(speed:[^\\]+|guest)$'))[1];
END $$;

REVOKE ALL ON FUNCTION ebs_class_given(p_class text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_class_given(p_class text) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
