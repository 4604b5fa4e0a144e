-- Two rules of the data that forms and services ask first, now held by the database for
-- every path: an assignment never starts inside time already charged
-- (sql/functions/ebs_account_tariffs_refuse_settled.sql), and no two IP pools share an
-- address (sql/functions/ebs_ip_pools_refuse_overlap.sql).

CREATE TRIGGER account_tariffs_refuse_settled_insert
    AFTER INSERT ON account_tariffs
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_account_tariffs_refuse_settled();

CREATE TRIGGER account_tariffs_refuse_settled_update
    AFTER UPDATE ON account_tariffs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ebs_account_tariffs_refuse_settled();

CREATE TRIGGER ip_pools_refuse_overlap
    AFTER INSERT OR UPDATE OF range_start, range_end ON ip_pools
    FOR EACH ROW EXECUTE FUNCTION ebs_ip_pools_refuse_overlap();
