-- NULL: no list applies (any network); true/false: the address is inside one or not.
CREATE OR REPLACE FUNCTION ebs_staff_login_allowed(staff integer, address inet) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = public, pg_temp
    AS $$
    WITH own AS (SELECT network FROM staff_networks WHERE user_id = staff),
         by_role AS (SELECT n.network FROM staff_networks n
                       JOIN ab_user_role ur ON ur.role_id = n.role_id
                      WHERE ur.user_id = staff),
         applying AS (SELECT network FROM own
                      UNION ALL
                      SELECT network FROM by_role WHERE NOT EXISTS (SELECT 1 FROM own))
    SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM applying) THEN NULL
                ELSE EXISTS (SELECT 1 FROM applying WHERE address <<= network) END
$$;

REVOKE ALL ON FUNCTION ebs_staff_login_allowed(staff integer, address inet) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ebs_staff_login_allowed(staff integer, address inet) TO ebs_web, ebs_worker, ebs_radius, ebs_acct, ebs_reports;
