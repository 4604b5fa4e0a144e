CREATE OR REPLACE FUNCTION ebs_pool_range_changed() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
BEGIN
    DELETE FROM ip_pools_filled WHERE pool_id = NEW.id;
    RETURN NULL;
END $$;

REVOKE ALL ON FUNCTION ebs_pool_range_changed() FROM PUBLIC;
