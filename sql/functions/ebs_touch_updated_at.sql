CREATE OR REPLACE FUNCTION ebs_touch_updated_at() RETURNS trigger LANGUAGE plpgsql
    SET search_path = public, pg_temp
    AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

REVOKE ALL ON FUNCTION ebs_touch_updated_at() FROM PUBLIC;
