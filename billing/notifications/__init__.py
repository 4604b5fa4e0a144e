"""Notifications to subscribers by SMS and e-mail: the rules, in one place.

``phones`` (numbers to E.164), ``sms_text`` (parts, transliteration), ``templates``
(rendering in a sandbox, refused at save when they cannot render), ``quiet_hours`` (when a
message may leave), ``outbox`` (queueing once, claiming, and the at-most-once states).
The providers' HTTP and SMTP clients live in the worker; they only carry what the outbox
hands them and report what the provider answered.
"""
