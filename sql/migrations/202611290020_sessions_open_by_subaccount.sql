-- Authorize counts a subscriber's live sessions (simultaneous use) on every
-- Access-Request: without this index that is a scan of every open session. Interim
-- updates never change subaccount_id, so they stay HOT (see the accounting migration).
CREATE INDEX sessions_open_subaccount_idx ON sessions_open (subaccount_id);
