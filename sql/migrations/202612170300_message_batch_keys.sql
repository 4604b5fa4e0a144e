-- A mailing is queued from the admin's form in chunks, each committed with its progress:
-- the form's one-time key makes the same form submitted twice one batch, and the last
-- account walked lets an interrupted batch go on where it stopped (never from the start,
-- which would count its messages twice).
ALTER TABLE message_batches
    ADD COLUMN request_key text UNIQUE CHECK (request_key <> ''),
    ADD COLUMN walked_to bigint NOT NULL DEFAULT 0;
