-- The account card and its pickers, on indexes at 500,000 accounts and millions of
-- sessions:
--   * past sessions, newest stop first, over the whole history (the Operations list)
--     and by login; one account's are served by sessions_history_account_idx already;
--   * a subaccount picked by the start of its login (text_pattern_ops: the database's
--     collation is not C, so the unique index cannot serve LIKE 'abc%').
CREATE INDEX sessions_history_stopped_idx ON sessions_history (stopped_at);
CREATE INDEX sessions_history_username_idx ON sessions_history (username, stopped_at);
CREATE INDEX subaccounts_username_prefix_idx ON subaccounts (username text_pattern_ops);

-- The card's correction and transfer log themselves like every account action.
ALTER TABLE staff_audit_log DROP CONSTRAINT staff_audit_log_action_check;
ALTER TABLE staff_audit_log ADD CONSTRAINT staff_audit_log_action_check
    CHECK (action IN ('add', 'edit', 'delete', 'payment', 'tariff_change', 'suspend', 'resume',
                      'kick', 'status', 'password', 'promise', 'login_refused', 'lockout',
                      'correction', 'transfer'))
    NOT VALID;
ALTER TABLE staff_audit_log VALIDATE CONSTRAINT staff_audit_log_action_check;
