-- Notifications of events (billing/notifications/events.py): low balance, payments,
-- blocks and the forecast, each queued once by its key; and the default templates.

-- How far each event's source has been read: the ledger's id for payments, the
-- account_status_history's id for blocks. A first pass starts at the end (an installed
-- system does not tell its subscribers about every payment of its past).
CREATE TABLE notification_marks (
    event text PRIMARY KEY CHECK (event IN ('payment_received', 'blocked')),
    last_id bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The accounts told "your money lasts N more days" since their forecast last rose above
-- NOTIFY_FORECAST_DAYS: once per crossing; the row goes when the forecast rises again.
CREATE TABLE forecast_notices (
    account_id bigint PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    days_left integer NOT NULL CHECK (days_left >= 0),
    sent_at timestamptz NOT NULL
);

-- Phone numbers as typed, read once: E.164 or the reason none can be had
-- (billing/notifications/phones.py). A pure function of the text, the region and the
-- numbering-plan data (``checked_with``: the phonenumbers version; another version reads
-- them again), so a pass over 50,000 subscribers joins it instead of parsing each number.
CREATE TABLE phone_numbers (
    region text NOT NULL,
    raw text NOT NULL,
    e164 text,
    reason text,
    checked_with text NOT NULL,
    PRIMARY KEY (region, raw),
    CHECK ((e164 IS NULL) <> (reason IS NULL))
);

-- The default templates, for the operator to edit in the admin. Essential ones (a block,
-- a payment) reach even a subscriber who opted out of the others.
INSERT INTO message_templates (code, language, channel, subject, body, essential) VALUES
    ('low_balance', 'ru', 'sms', '',
     'Баланс договора {{ contract }}: {{ balance|money }} руб. Пополните счёт, чтобы доступ не был приостановлен.',
     false),
    ('low_balance', 'en', 'sms', '',
     'Contract {{ contract }}: your balance is {{ balance|money }}. Please top up to keep your access.',
     false),
    ('payment_received', 'ru', 'sms', '',
     'Платёж {{ amount|money }} руб. зачислен на договор {{ contract }}. Баланс: {{ balance|money }} руб.',
     true),
    ('payment_received', 'en', 'sms', '',
     'Payment of {{ amount|money }} credited to contract {{ contract }}. Balance: {{ balance|money }}.',
     true),
    ('blocked', 'ru', 'sms', '',
     'Доступ по договору {{ contract }} приостановлен: {{ reason }}. Баланс: {{ balance|money }} руб.',
     true),
    ('blocked', 'en', 'sms', '',
     'Access for contract {{ contract }} is suspended: {{ reason }}. Balance: {{ balance|money }}.',
     true),
    ('suspension_ending', 'ru', 'sms', '',
     'Добровольная блокировка договора {{ contract }} заканчивается {{ until }}.',
     false),
    ('suspension_ending', 'en', 'sms', '',
     'The suspension of contract {{ contract }} ends on {{ until }}.',
     false),
    ('forecast', 'ru', 'sms', '',
     'Средств на счёте договора {{ contract }} хватит примерно на {{ days_left }} дн. Баланс: {{ balance|money }} руб.',
     false),
    ('forecast', 'en', 'sms', '',
     'The money on contract {{ contract }} lasts about {{ days_left }} more days. Balance: {{ balance|money }}.',
     false)
ON CONFLICT (code, language, channel) DO NOTHING;
