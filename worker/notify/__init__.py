"""Messages to subscribers leave here: one module per SMS gateway (sms.ru, websms.ru,
smspilot.ru) and SMTP, each ``send(message, config, http) -> Result``, and the sender
that takes due messages from the outbox (billing/notifications/outbox.py)."""
