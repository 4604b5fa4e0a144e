"""The pure half of ``ebs seed``: subscribers, their money and their sessions as COPY text.

Nothing here touches the database. :func:`generate_chunk` turns a run of account numbers
(and the ids the database reserved for them) into tab-separated lines for
``COPY ... FROM STDIN``, deterministically from the seed: the same seed, numbers and clock
give the same bytes. Speed matters (500,000 subscribers with history must load in
minutes), so amounts are integer kopecks, moments are integer epoch seconds formatted
through precomputed tables, and randomness is one ``random()`` call per decision.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from cli.seed_traffic import TrafficShape

DAY = 86400

# --- people and places -----------------------------------------------------------------

def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# (male, female) surname forms; the indeclinable ones are the same in both.
_FEMININE_A = ("ов", "ев", "ёв", "ин", "ын")
SURNAMES: tuple[tuple[str, str], ...] = tuple(
    (m, m[:-2] + "ая" if m.endswith("ий") else m + "а" if m.endswith(_FEMININE_A) else m)
    for m in _words(
        "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров "
        "Морозов Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев "
        "Орлов Андреев Макаров Никитин Захаров Зайцев Соловьёв Борисов Яковлев Григорьев "
        "Романов Воробьёв Сергеев Кузьмин Фролов Александров Дмитриев Королёв Гусев Киселёв "
        "Ильин Максимов Поляков Сорокин Виноградов Ковалёв Белов Медведев Антонов Тарасов "
        "Жуков Баранов Филиппов Комаров Давыдов Беляев Герасимов Богданов Осипов Сидоров "
        "Матвеев Титов Марков Миронов Крылов Куликов Карпов Власов Мельников Денисов "
        "Гаврилов Тихонов Казаков Афанасьев Данилов Савельев Тимофеев Фомин Чернов Абрамов "
        "Мартынов Ефимов Федотов Щербаков Назаров Калинин Исаев Чернышёв Быков Маслов "
        "Родионов Коновалов Лазарев Воронин Климов Филатов Пономарёв Голубев Кудрявцев "
        "Прохоров Наумов Потапов Журавлёв Овчинников Трофимов Леонов Соболев Ермаков "
        "Колесников Гончаров Емельянов Никифоров Грачёв Котов Гришин Ефремов Архипов "
        "Громов Кириллов Малышев Панов Моисеев Румянцев Акимов Кондратьев Бирюков Горбунов "
        "Анисимов Ерёмин Тихомиров Галкин Лукьянов Михеев Скворцов Юдин Белоусов Нестеров "
        "Симонов Прокофьев Харитонов Князев Цветков Левин Митрофанов Воронцов Капустин "
        "Жданов Островский Вишневский Ковальский Шевченко Бондаренко Черных Седых Ким Цой "
        "Кравченко Литвиненко Руденко Гайдук Ткачук Белых Долгих"
    )
)

MALE_NAMES = _words(
    "Александр Алексей Андрей Антон Артём Борис Вадим Валерий Василий Виктор Виталий "
    "Владимир Владислав Вячеслав Геннадий Георгий Григорий Денис Дмитрий Евгений Егор "
    "Иван Игорь Илья Кирилл Константин Леонид Максим Михаил Никита Николай Олег Павел "
    "Пётр Роман Руслан Сергей Станислав Степан Тимур Фёдор Юрий Ярослав"
)

FEMALE_NAMES = _words(
    "Александра Алина Алла Анастасия Анна Валентина Валерия Вера Виктория Галина Дарья "
    "Евгения Екатерина Елена Елизавета Жанна Зоя Инна Ирина Кристина Ксения Лариса "
    "Любовь Людмила Маргарита Марина Мария Надежда Наталья Нина Оксана Ольга Полина "
    "Светлана Софья Тамара Татьяна Ульяна Юлия Яна"
)

# (patronymic for a man, for a woman)
PATRONYMICS: tuple[tuple[str, str], ...] = (
    ("Александрович", "Александровна"), ("Алексеевич", "Алексеевна"),
    ("Анатольевич", "Анатольевна"), ("Андреевич", "Андреевна"), ("Борисович", "Борисовна"),
    ("Валерьевич", "Валерьевна"), ("Васильевич", "Васильевна"), ("Викторович", "Викторовна"),
    ("Владимирович", "Владимировна"), ("Геннадьевич", "Геннадьевна"),
    ("Григорьевич", "Григорьевна"), ("Дмитриевич", "Дмитриевна"), ("Евгеньевич", "Евгеньевна"),
    ("Иванович", "Ивановна"), ("Игоревич", "Игоревна"), ("Ильич", "Ильинична"),
    ("Константинович", "Константиновна"), ("Леонидович", "Леонидовна"),
    ("Михайлович", "Михайловна"), ("Николаевич", "Николаевна"), ("Олегович", "Олеговна"),
    ("Павлович", "Павловна"), ("Петрович", "Петровна"), ("Романович", "Романовна"),
    ("Сергеевич", "Сергеевна"), ("Степанович", "Степановна"), ("Фёдорович", "Фёдоровна"),
    ("Юрьевич", "Юрьевна"), ("Ярославович", "Ярославовна"),
)

# An ISP of one region: the city itself and the towns around it, weighted by size.
CITIES: tuple[tuple[str, int], ...] = (
    ("Ярославль", 62), ("Рыбинск", 16), ("Переславль-Залесский", 5), ("Тутаев", 5),
    ("Углич", 4), ("Ростов", 4), ("Гаврилов-Ям", 2), ("Данилов", 2),
)

STREETS = (
    "ул. Ленина", "ул. Советская", "ул. Кирова", "ул. Свободы", "ул. Пушкина",
    "ул. Гагарина", "ул. Чкалова", "ул. Некрасова", "ул. Победы", "ул. Садовая",
    "ул. Школьная", "ул. Молодёжная", "ул. Строителей", "ул. Почтовая", "ул. Октябрьская",
    "ул. Комсомольская", "ул. Первомайская", "ул. Лесная", "ул. Полевая", "ул. Заводская",
    "ул. Труфанова", "ул. Панина", "ул. Урицкого", "ул. Володарского", "ул. Жукова",
    "ул. Батова", "ул. Блюхера", "ул. Елены Колесовой", "ул. Менделеева", "ул. Титова",
    "пр-т Ленинградский", "пр-т Октября", "пр-т Дзержинского", "пр-т Толбухина",
    "пр-т Авиаторов", "пр-т Фрунзе", "пр-т Машиностроителей", "Московский пр-т",
    "Тутаевское ш.", "Суздальское ш.", "наб. Которосльная", "Волжская наб.",
    "пер. Индустриальный", "пер. Чернопрудный", "бул. Бабича", "б-р Победы",
)

_TRANSLIT = dict(zip(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    _words("a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya"),
    strict=True,
))
EMAIL_DOMAINS = ("mail.ru", "yandex.ru", "gmail.com", "bk.ru", "list.ru", "rambler.ru",
                 "inbox.ru")

PAYMENT_CHANNELS = (
    "Оплата банковской картой", "Сбербанк Онлайн", "Касса офиса", "Платёжный терминал",
    "Система быстрых платежей", "Оплата по квитанции в банке", "ЮMoney",
)

TERMINATE_CAUSES = (
    ("User-Request", 50), ("Lost-Carrier", 20), ("Idle-Timeout", 8),
    ("Session-Timeout", 6), ("Port-Error", 4), ("NAS-Reboot", 3), ("Admin-Reset", 3),
    ("Lost-Service", 6),
)


def translit(word: str) -> str:
    return "".join(_TRANSLIT.get(c, c) for c in word.lower()).replace("_", "")


def _expand(weighted: tuple[tuple[str, int], ...]) -> tuple[str, ...]:
    return tuple(name for name, weight in weighted for _ in range(weight))


# --- what the database tells the generator ---------------------------------------------

@dataclass(frozen=True)
class Service:
    """A periodic service as the generator charges it: one entry per calendar month."""

    name: str
    unit: str  # DAY / WEEK / MONTH / YEAR / SECONDS
    length_seconds: int | None
    autostart: bool
    cost: int  # kopecks
    method: str  # AT_START / AT_END / GRADUAL

    def month_amount(self, days: int) -> int:
        """Kopecks this service costs over ``days`` days of a month."""
        if self.unit == "MONTH":
            return self.cost
        if self.unit == "DAY":
            return self.cost * days
        if self.unit == "WEEK":
            return (self.cost * days * 2 + 7) // 14
        if self.unit == "YEAR":
            return (self.cost * 2 + 12) // 24
        return (self.cost * days * DAY * 2 + self.length_seconds) // (2 * self.length_seconds)


@dataclass(frozen=True)
class Plan:
    """A tariff the seed assigns, how many subscribers pick it, and how they connect."""

    tariff_id: int
    name: str
    weight: int
    services: tuple[Service, ...]
    static_ip_share: float
    mac_share: float


@dataclass(frozen=True)
class Network:
    nas_id: int
    nas_ip: str
    pool_id: int
    pool_first: int  # dynamic addresses as integers, [first, last]
    pool_last: int


STATIC_IP_BASE = (10 << 24) | (128 << 16)  # static addresses: 10.128.0.0/9, one per number
STATIC_IP_SPAN = 1 << 23


def ip_text(value: int) -> str:
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def static_ip(number: int) -> int | None:
    """The static address reserved for account ``number`` (None past the range or on a
    .0/.255 address, which some NASes refuse)."""
    if number >= STATIC_IP_SPAN or (number & 255) in (0, 255):
        return None
    return STATIC_IP_BASE + number


def mac_for(number: int) -> str:
    """A locally administered MAC, unique per account number."""
    return "02:eb:" + ":".join(f"{(number >> s) & 255:02x}" for s in (24, 16, 8, 0))


# --- the clock ---------------------------------------------------------------------------

class Clock:
    """The history window and fast timestamp text.

    The window is ``months`` whole calendar months (ISP-local) before the current one plus
    the current one so far. Every charge lies before ``now`` at the moment the charging
    engine would make it (or, for steps summed per month, inside the time they cover), so
    the engine, which charges from ``now`` on, never charges a period the history did.
    ``month_starts`` holds the start (epoch seconds) of each month of the window and of the
    month after it; ``month_days`` their lengths in days.
    """

    def __init__(self, now: datetime, months: int, tz: str) -> None:
        zone = ZoneInfo(tz)
        self.zone = zone
        self.now = int(now.timestamp())
        local = now.astimezone(zone)
        starts = []
        for back in range(months, -2, -1):
            y, m = divmod(local.year * 12 + local.month - 1 - back, 12)
            starts.append(int(datetime(y, m + 1, 1, tzinfo=zone).timestamp()))
        self.month_starts = starts
        self.month_days = [round((b - a) / DAY) for a, b in pairwise(starts)]
        self.month_labels = [
            datetime.fromtimestamp(s, zone).strftime("%m.%Y") for s in starts[:-1]
        ]
        # Accounts that predate the window joined up to two years before it.
        self.first_day = (starts[0] - 2 * 366 * DAY) // DAY - 1
        base = datetime(1970, 1, 1, tzinfo=UTC)
        self._days = [
            (base + timedelta(days=d)).strftime("%Y-%m-%d ")
            for d in range(self.first_day, self.now // DAY + 2)
        ]
        self._hms = [
            f"{h:02d}:{m:02d}:{s:02d}+00" for h in range(24) for m in range(60) for s in range(60)
        ]

    def anniversaries(self, assigned: int) -> list[int]:
        """For each month of the window, the moment a monthly period started at
        ``assigned`` renews in it: the same local day (clamped to the month's length) and
        time of day, as ``billing.periods`` counts a period from the connection."""
        local = datetime.fromtimestamp(assigned, self.zone)
        out = []
        for start, days in zip(self.month_starts, self.month_days, strict=False):
            month = datetime.fromtimestamp(start, self.zone)
            wall = local.replace(year=month.year, month=month.month,
                                 day=min(local.day, days), tzinfo=None)
            out.append(int(wall.replace(tzinfo=self.zone).timestamp()))
        return out

    @property
    def window_start(self) -> int:
        return self.month_starts[0]

    @property
    def months(self) -> int:
        """Months in the window, the current one included."""
        return len(self.month_days)

    def ts(self, t: int) -> str:
        """``t`` (epoch seconds, inside the window's range) as COPY text in UTC."""
        return self._days[t // DAY - self.first_day] + self._hms[t % DAY]


def money(kopecks: int) -> str:
    if kopecks < 0:
        kopecks = -kopecks
        return f"-{kopecks // 100}.{kopecks % 100:02d}"
    return f"{kopecks // 100}.{kopecks % 100:02d}"


def round_up(kopecks: int, step: int) -> int:
    return -(-kopecks // step) * step


# --- the generator -----------------------------------------------------------------------

NULL = "\\N"


@dataclass
class Chunk:
    """COPY text for one run of accounts, encoded, plus what it holds."""

    accounts: bytes
    subaccounts: bytes
    account_tariffs: bytes
    ledger: bytes
    sessions: bytes
    entries: int
    session_count: int
    traffic_hourly: bytes = b""
    traffic_daily: bytes = b""
    traffic_rows: int = 0


class Generator:
    """Everything fixed for a seed run, precomputed once; :meth:`chunk` does the work.

    Each chunk draws from its own random stream keyed by the seed and its first account
    number, so a chunk's text does not depend on what was generated before it; the
    traffic statistics (with ``traffic`` and history) draw from a stream of their own, so
    adding them changed no other row.
    """

    def __init__(self, seed: int, plans: list[Plan], network: Network, clock: Clock,
                 traffic: TrafficShape | None = None) -> None:
        if not plans:
            raise ValueError("the seed needs at least one tariff")
        self.seed = seed
        self.traffic = traffic
        self.network = network
        self.clock = clock
        self.plan_table = tuple(p for p in plans for _ in range(p.weight))
        self.cities = _expand(CITIES)
        self.causes = _expand(TERMINATE_CAUSES)
        self.surname_mail = [translit(m) for m, _ in SURNAMES]
        self.descriptions = {
            (p.tariff_id, i, j): f"{s.name} «{p.name}» за {label}"
            for p in plans for i, s in enumerate(p.services)
            for j, label in enumerate(clock.month_labels)
        }

    # People ----------------------------------------------------------------------------

    def _person(self, r, number: int) -> str:
        """The account's personal columns, tab-separated: name, phone, e-mail, address."""
        female = r() < 0.5
        k = int(r() * len(SURNAMES))
        if female:
            first = FEMALE_NAMES[int(r() * len(FEMALE_NAMES))]
            full = f"{SURNAMES[k][1]} {first} {PATRONYMICS[int(r() * len(PATRONYMICS))][1]}"
        else:
            first = MALE_NAMES[int(r() * len(MALE_NAMES))]
            full = f"{SURNAMES[k][0]} {first} {PATRONYMICS[int(r() * len(PATRONYMICS))][0]}"
        phone = f"+79{int(r() * 1_000_000_000):09d}"
        email = ""
        if r() < 0.45:
            domain = EMAIL_DOMAINS[int(r() * len(EMAIL_DOMAINS))]
            email = f"{self.surname_mail[k]}{number % 1000}@{domain}"
        city = self.cities[int(r() * len(self.cities))]
        street = STREETS[int(r() * len(STREETS))]
        house = str(1 + int(r() * 120))
        x = r()
        if x < 0.1:
            house += "А"
        elif x < 0.16:
            house += f" к{1 + int(r() * 4)}"
        flat = "" if r() < 0.12 else str(1 + int(r() * 280))
        return f"{full}\t{phone}\t{email}\t{city}\t{street}\t{house}\t{flat}"

    # Money -----------------------------------------------------------------------------

    def _charges(self, r, plan: Plan, assigned: int, first_month: int) -> list[tuple]:
        """(moment, kopecks, service index, month index) of every charge in the window.

        One entry per service and month: charges posted in small steps (GRADUAL, daily
        services) are summed into one entry at the end of the month, to keep the volume a
        benchmark can load while the balances stay what the steps would make them.
        """
        clock = self.clock
        starts, now = clock.month_starts, clock.now
        anniversary = clock.anniversaries(assigned) if any(
            s.autostart and s.method == "AT_START" and s.unit == "MONTH"
            for s in plan.services) else ()
        out = []
        for j in range(first_month, clock.months):
            begin, end, days = starts[j], starts[j + 1], clock.month_days[j]
            for i, s in enumerate(plan.services):
                if s.method == "GRADUAL" or s.unit != "MONTH":
                    until = min(end, now)
                    covered = (until - max(begin, assigned)) // DAY
                    if covered <= 0:
                        continue
                    if s.unit == "MONTH":
                        amount = s.cost * covered // days
                    else:
                        amount = s.month_amount(covered)
                    t = due = until - 600 - int(r() * 3000)
                elif s.method == "AT_END":
                    amount = s.cost
                    due = end
                    t = end + 300 + int(r() * 600)
                    if begin < assigned:  # the first, partial month: prorated by days
                        amount = amount * ((end - assigned) // DAY) // days
                elif s.autostart:
                    # On the anniversary of the connection, as the charging engine does.
                    amount = s.cost
                    due = t = anniversary[j]
                else:
                    amount = s.cost
                    due = begin
                    t = begin + 300 + int(r() * 600)
                    if begin < assigned:
                        amount = amount * ((end - assigned) // DAY) // days
                        due = assigned
                        t = assigned + 60 + int(r() * 600)
                if due < now <= t:
                    t = now - 1  # due before the seed's moment: the engine will not charge it
                if t >= now or t < assigned or amount <= 0:
                    continue
                out.append((t, amount, i, j))
        return out

    def _ledger(self, r, aid: int, plan: Plan, assigned: int, first_month: int,
                lines: list[str]) -> tuple[int, int]:
        """Append the account's entries as COPY lines; return (final balance, entries)."""
        clock = self.clock
        ts = clock.ts
        starts, now = clock.month_starts, clock.now
        monthly = sum(s.month_amount(30) for s in plan.services) or 30000
        charges = self._charges(r, plan, assigned, first_month)
        by_month: dict[int, int] = {}
        for _, amount, _, j in charges:
            by_month[j] = by_month.get(j, 0) + amount
        x = r()
        # How this subscriber pays: on time, ahead, late, or on time until he stops.
        profile = 0 if x < 0.58 else 1 if x < 0.78 else 2 if x < 0.90 else 3
        stop_month = first_month + int(r() * (clock.months - first_month + 1))
        channels = PAYMENT_CHANNELS
        payments: list[tuple[int, int]] = []
        balance = 0

        def pay(t: int, amount: int) -> None:
            nonlocal balance
            if r() < 0.15:  # card fees and odd sums leave kopecks
                amount += 1 + int(r() * 99)
            balance += amount
            payments.append((t, amount))

        # The first payment: at connection, or the balance carried into the window.
        opening = assigned + 120
        if assigned < starts[0]:
            opening = starts[0] - DAY * (1 + int(r() * 20)) + 32400 + int(r() * 36000)
        if opening < now:
            pay(opening, round_up(monthly * (1 + int(r() * 2)), 10000))
        for j in range(first_month, clock.months):
            balance -= by_month.get(j, 0)
            if profile == 3 and j >= stop_month:
                continue
            t = max(starts[j], assigned) + int(r() * 26 * DAY)
            if t >= now:
                continue
            if profile == 0 or profile == 3:
                if r() < 0.06 or (balance >= monthly and r() < 0.7):
                    continue
                amount = round_up(max(monthly - balance, monthly), 5000)
                if r() < 0.12:
                    amount *= 2 + int(r() * 2)
            elif profile == 1:
                if balance >= monthly:
                    continue
                amount = round_up(monthly * (3 + int(r() * 4)), 50000)
            else:
                if balance >= 0 or r() < 0.35:
                    continue
                amount = round_up(monthly - balance, 10000)
            pay(t, amount)
        n = 0
        for t, amount in payments:
            n += 1
            stamp = ts(t)
            lines.append(
                f"{aid}\tpayment\t{amount // 100}.{amount % 100:02d}\tseed:{aid}:{n}\t"
                f"{stamp}\t{stamp}\t{channels[int(r() * len(channels))]}\n"
            )
        desc = self.descriptions
        for t, amount, i, j in charges:
            n += 1
            stamp = ts(t)
            lines.append(
                f"{aid}\tcharge_periodic\t-{amount // 100}.{amount % 100:02d}\tseed:{aid}:{n}\t"
                f"{stamp}\t{stamp}\t{desc[plan.tariff_id, i, j]}\n"
            )
        return balance, n

    # Sessions --------------------------------------------------------------------------

    def _sessions(self, r, aid: int, sid: int, login: str, ip: int | None, calling: str,
                  since: int, lines: list[str]) -> int:
        """Append closed sessions from ``since`` to now, about one every sixteen days."""
        clock = self.clock
        ts, now = clock.ts, clock.now
        net = self.network
        causes = self.causes
        span = now - since
        if span < 3600:  # connected within the hour: no closed session yet
            return 0
        count = max(1, span // (16 * DAY)) + int(r() * 3)
        slot = span // count  # each session stays inside its slot, the last one before now
        rate = 20_000 + int(r() * r() * 900_000)  # bytes per second, heavy-tailed
        pool = net.pool_last - net.pool_first + 1
        fixed = f"{sid}\t{aid}\t{net.nas_id}\t{net.nas_ip}\t{login}\t"
        port = f"{calling}\tpppoe-service\t<pppoe-{login}>\t"
        static = ip_text(ip) if ip is not None else None
        for k in range(count):
            begin = since + k * slot + int(r() * slot * 0.3)
            length = 60 + int(r() * (slot * 0.65 - 60))
            down = int(length * rate * (0.3 + r() * 1.4))
            up = int(down * (0.04 + r() * 0.18))
            framed = static or ip_text(net.pool_first + int(r() * pool))
            lines.append(
                f"5eed{aid:012x}{k:04x}{int(r() * 0xFFFFFFFFFFFF):012x}\t"
                f"{int(r() * 0xFFFFFFFF):08x}\t{fixed}{framed}\t{port}"
                f"{ts(begin)}\t{ts(begin + length)}\t{up}\t{down}\t{length}\t"
                f"{causes[int(r() * len(causes))]}\n"
            )
        return count

    # The chunk -------------------------------------------------------------------------

    def chunk(self, numbers: range, account_ids: list[int], subaccount_ids: list[int],
              history: bool) -> Chunk:
        """COPY text for accounts ``numbers`` under the ids the database reserved."""
        # Demo data, not secrets: a reproducible stream is the point.
        rng = random.Random(f"ebs-seed:{self.seed}:{numbers.start}")  # noqa: S311
        r = rng.random
        clock = self.clock
        months = clock.months
        accounts: list[str] = []
        subaccounts: list[str] = []
        assignments: list[str] = []
        ledger: list[str] = []
        sessions: list[str] = []
        entries = session_count = traffic_rows = 0
        hourly: list[str] = []
        daily: list[str] = []
        traffic = self.traffic if history else None
        traffic_r = random.Random(  # noqa: S311 (demo data, as above)
            f"ebs-seed-traffic:{self.seed}:{numbers.start}").random
        net = self.network
        plan_table = self.plan_table
        for number, aid, sid in zip(numbers, account_ids, subaccount_ids, strict=True):
            login = f"u{number:07d}"
            person = self._person(r, number)
            plan = plan_table[int(r() * len(plan_table))]
            if not history or r() < 0.85:
                assigned = clock.window_start - DAY - int(r() * 2 * 365 * DAY)
                first_month = 0
            else:
                first_month = 1 + int(r() * (months - 1))
                begin = clock.month_starts[first_month]
                until = min(clock.month_starts[first_month + 1], clock.now)
                assigned = begin + int(r() * (until - begin))
            credit = "300.00" if r() < 0.05 else "0"
            balance = 0
            if history:
                balance, n = self._ledger(r, aid, plan, assigned, first_month, ledger)
                entries += n
            created = clock.ts(assigned - 3600)
            accounts.append(
                f"{aid}\t{number:07d}\t{login}\t{'t' if balance < 0 else 'f'}\t{credit}\t"
                f"{person}\t{created}\n"
            )
            ip = static_ip(number) if r() < plan.static_ip_share else None
            mac = mac_for(number)
            bound_mac = r() < plan.mac_share
            subaccounts.append(
                f"{sid}\t{aid}\t{login}\t{NULL if ip is None else ip_text(ip)}\t"
                f"{mac if bound_mac else NULL}\t{net.pool_id if ip is None else NULL}\t"
                f"{net.nas_id}\t{'t' if bound_mac else 'f'}\t{'f' if ip is None else 't'}\t"
                f"{created}\n"
            )
            assignments.append(f"{aid}\t{plan.tariff_id}\t{clock.ts(assigned)}\n")
            if history:
                session_count += self._sessions(
                    r, aid, sid, login, ip, mac.upper(),
                    max(assigned, clock.window_start), sessions,
                )
            if traffic is not None:
                traffic_rows += traffic.account(traffic_r, aid, assigned, hourly, daily)
        return Chunk(
            accounts="".join(accounts).encode(),
            subaccounts="".join(subaccounts).encode(),
            account_tariffs="".join(assignments).encode(),
            ledger="".join(ledger).encode(),
            sessions="".join(sessions).encode(),
            entries=entries,
            session_count=session_count,
            # In time order, as the rater writes them hour by hour: an account's rows lie
            # apart in the table as they do in production, not side by side.
            traffic_hourly="".join(sorted(hourly)).encode(),
            traffic_daily="".join(sorted(daily)).encode(),
            traffic_rows=traffic_rows,
        )


ACCOUNT_COLUMNS = ("id, contract, login, blocked_by_balance, credit, full_name, phone, email, "
                   "city, street, house, flat, created_at")
SUBACCOUNT_COLUMNS = ("id, account_id, username, ip_address, mac_address, ip_pool_id, nas_id, "
                      "bind_to_mac, bind_to_ip, created_at")
ASSIGNMENT_COLUMNS = "account_id, tariff_id, assigned_at"
LEDGER_COLUMNS = ("account_id, kind, amount, idempotency_key, effective_at, created_at, "
                  "description")
SESSION_COLUMNS = ("acct_unique_id, acct_session_id, subaccount_id, account_id, nas_id, nas_ip, "
                   "username, framed_ip, calling_station_id, called_station_id, nas_port_id, "
                   "started_at, stopped_at, input_octets, output_octets, session_time, "
                   "terminate_cause")
