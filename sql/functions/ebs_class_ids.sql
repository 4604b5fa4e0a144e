-- The Class of an Access-Accept, "ebs:<subaccount id>:<lease id>[:<given>]" (lease 0:
-- none; what the login gave, ebs_class_given), as
-- accounting sees it: rlm_sql expands the octets attribute as 0x-hex. NULLs when the
-- Class is absent or not ours.
CREATE OR REPLACE FUNCTION ebs_class_ids(p_class text, OUT subaccount_id bigint, OUT lease_id bigint)
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = public, pg_temp
    AS $$
DECLARE
    v_text text := p_class;
    v_match text[];
BEGIN
    IF v_text ~ '^0x([0-9A-Fa-f]{2})+$' THEN
        v_text := encode(decode(substr(v_text, 3), 'hex'), 'escape');
    END IF;
    v_match := regexp_match(coalesce(v_text, ''), '^ebs:([0-9]{1,18}):([0-9]{1,18})(:.*)?$');
    IF v_match IS NOT NULL THEN
        subaccount_id := v_match[1]::bigint;
        lease_id := nullif(v_match[2]::bigint, 0);
    END IF;
END $$;

REVOKE ALL ON FUNCTION ebs_class_ids(p_class text, OUT subaccount_id bigint, OUT lease_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_class_ids(p_class text, OUT subaccount_id bigint, OUT lease_id bigint) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
