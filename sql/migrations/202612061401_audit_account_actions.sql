-- The account actions of the admin (webapp/views/account_actions.py) log themselves too:
-- a status set, a password set, a promised payment given, beside the tariff change,
-- suspension and resume the REST API already logs.
ALTER TABLE staff_audit_log DROP CONSTRAINT staff_audit_log_action_check;
ALTER TABLE staff_audit_log ADD CONSTRAINT staff_audit_log_action_check
    CHECK (action IN ('add', 'edit', 'delete', 'payment', 'tariff_change', 'suspend', 'resume',
                      'kick', 'status', 'password', 'promise')) NOT VALID;
ALTER TABLE staff_audit_log VALIDATE CONSTRAINT staff_audit_log_action_check;
