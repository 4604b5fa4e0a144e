-- Failed staff logins lock the login for a growing while (webapp/login_guard.py): the
-- moment the lock ends lives beside FAB's own failure counter. Refused logins and the
-- locks join the audit's actions, as do the staff's own password changes.
ALTER TABLE ab_user ADD COLUMN locked_until timestamptz;

ALTER TABLE staff_audit_log DROP CONSTRAINT staff_audit_log_action_check;
ALTER TABLE staff_audit_log ADD CONSTRAINT staff_audit_log_action_check
    CHECK (action IN ('add', 'edit', 'delete', 'payment', 'tariff_change', 'suspend', 'resume',
                      'kick', 'status', 'password', 'promise', 'login_refused', 'lockout'))
    NOT VALID;
ALTER TABLE staff_audit_log VALIDATE CONSTRAINT staff_audit_log_action_check;
