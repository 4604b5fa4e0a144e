-- The REST API's business actions leave audit rows of their own kinds next to the admin
-- forms' add/edit/delete: a payment, a tariff change, a suspension and its end, a kick.
ALTER TABLE staff_audit_log DROP CONSTRAINT IF EXISTS staff_audit_log_action_check;
ALTER TABLE staff_audit_log ADD CONSTRAINT staff_audit_log_action_check
    CHECK (action IN ('add', 'edit', 'delete', 'payment', 'tariff_change', 'suspend',
                      'resume', 'kick'));
