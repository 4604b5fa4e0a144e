-- The bank-statement import's journal (billing/statement_import.py): one row per file of
-- a pattern.ini section, by its name and content. 'reading' while its lines are applied
-- (lines_done counts those committed; a run killed there leaves the row so), 'done' once
-- its error file is written; the file then moves to folder_out. A file read again (the
-- run was killed, or the same file was dropped in anew) counts another run: its lines'
-- ledger keys make reading them again credit nothing twice.
CREATE TABLE statement_files (
    id bigserial PRIMARY KEY,
    section text NOT NULL,
    file_name text NOT NULL,
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    state text NOT NULL DEFAULT 'reading' CHECK (state IN ('reading', 'done')),
    runs integer NOT NULL DEFAULT 1 CHECK (runs > 0),
    lines_done integer NOT NULL DEFAULT 0 CHECK (lines_done >= 0),
    credited integer NOT NULL DEFAULT 0 CHECK (credited >= 0),
    already_seen integer NOT NULL DEFAULT 0 CHECK (already_seen >= 0),
    errors integer NOT NULL DEFAULT 0 CHECK (errors >= 0),
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    CONSTRAINT statement_files_once UNIQUE (section, file_name, sha256)
);
