-- The accounting spool's read positions (billing/acct_spool.py).
--
-- When rlm_sql cannot apply an Accounting-Request, FreeRADIUS writes it to a spool
-- detail file (freeradius_conf/mods-enabled/acct_spool). The drain renames each spool
-- file to a uniquely named work file, applies its entries in batches and records, in
-- the same transaction as each batch, how far into the file it has got. A drain that
-- dies mid-file resumes after the last committed batch: no entry is applied twice by
-- the drain, none is skipped (and ebs_acct_apply is idempotent besides).
-- One row per work file and RADIUS host; the row goes when its file has been removed.
CREATE TABLE acct_spool_files (
    host text NOT NULL,
    work_file text NOT NULL,
    position bigint NOT NULL DEFAULT 0 CHECK (position >= 0),
    applied bigint NOT NULL DEFAULT 0,
    skipped bigint NOT NULL DEFAULT 0,
    done boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host, work_file)
);

COMMENT ON TABLE acct_spool_files IS
    'How far the accounting-spool drain has applied each work file (committed per batch).';
