"""Rate limits: MikroTik's text form, rendering per NAS vendor, the speed at a moment."""

import glob
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.speeds import (
    VENDORS,
    Speed,
    SpeedOverride,
    TariffSpeeds,
    format_rate,
    next_speed_change,
    parse_rate,
    render,
    speed_for,
)
from billing.time_windows import Repeat, TimeNode

MOSCOW = ZoneInfo("Europe/Moscow")
FULL = "10M/20M 15M/25M 8M/16M 10/12 5 1M/2M"


# ---------------------------------------------------------------------------------------
# Parsing


def test_full_form_parses_in_mikrotik_order():
    assert Speed.parse(FULL) == Speed(
        max_rx=10_000_000,
        max_tx=20_000_000,
        burst_rx=15_000_000,
        burst_tx=25_000_000,
        threshold_rx=8_000_000,
        threshold_tx=16_000_000,
        burst_time_rx=10,
        burst_time_tx=12,
        priority=5,
        min_rx=1_000_000,
        min_tx=2_000_000,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512k", Speed(512_000, 512_000)),
        ("512k/1M", Speed(512_000, 1_000_000)),
        ("1G/2500", Speed(1_000_000_000, 2_500)),
        ("1.5M/0.5K", Speed(1_500_000, 500)),
        ("1M/2M 2M", Speed(1_000_000, 2_000_000, 2_000_000, 2_000_000)),
        (
            "1M/2M 2M/4M 1M/2M 8s/16s",
            Speed(1_000_000, 2_000_000, 2_000_000, 4_000_000, 1_000_000, 2_000_000, 8, 16),
        ),
        ("  1M/2M   2M/4M  ", Speed(1_000_000, 2_000_000, 2_000_000, 4_000_000)),
    ],
)
def test_optional_and_single_direction_parts(text, expected):
    assert Speed.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty speed"),
        ("   ", "empty speed"),
        ("10X", "rate: not a rate"),
        ("10M/20M/30M", "expected rx/tx"),
        ("10M/", "expected rx/tx"),
        ("1.0005k", "not a whole number"),
        ("0/10M", "must be positive"),
        ("10M -1M", "burst rate: not a rate"),
        ("10M 20M 10M 5x", "burst time: not a number of seconds"),
        ("10M 20M 10M 5 9", "priority must be 1..8"),
        ("10M 20M 10M 5 0", "priority must be 1..8"),
        ("10M 20M 10M 5 high", "priority: not a number"),
        ("10M 20M 10M 5 8 1M 2M", "too many parts"),
        ("10M 20M 10M 5 8 1Q", "minimum rate: not a rate"),
    ],
)
def test_bad_text_raises_a_clear_value_error(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Speed.parse(text)


def test_groups_are_positional_and_paired():
    with pytest.raises(ValueError, match="priority needs burst rate"):
        Speed(1000, 1000, priority=3)
    with pytest.raises(ValueError, match="both directions"):
        Speed(1000, 1000, burst_rx=2000)


def test_rates_format_to_the_shortest_exact_spelling():
    assert [format_rate(b) for b in (1500, 1000, 2_000_000, 3_000_000_000, 1_500_000)] == [
        "1500",
        "1k",
        "2M",
        "3G",
        "1500k",
    ]
    assert parse_rate("3G") == 3_000_000_000


# ---------------------------------------------------------------------------------------
# Rendering per vendor


def test_mikrotik_carries_every_part_in_order():
    assert render("mikrotik", Speed.parse(FULL)) == [("Mikrotik-Rate-Limit", FULL)]
    assert render("mikrotik", Speed.parse("512k")) == [("Mikrotik-Rate-Limit", "512k/512k")]


def test_cisco_rate_limits_input_as_upload_and_output_as_download():
    assert render("cisco", Speed.parse(FULL)) == [
        (
            "Cisco-AVPair",
            "lcp:interface-config#1=rate-limit input 10000000 1875000 3750000 "
            "conform-action transmit exceed-action drop",
        ),
        (
            "Cisco-AVPair",
            "lcp:interface-config#2=rate-limit output 20000000 3750000 7500000 "
            "conform-action transmit exceed-action drop",
        ),
    ]


def test_cisco_burst_stays_inside_the_commands_range():
    (up, down) = render("cisco", Speed.parse("1k/1G"))
    assert "input 8000 1500 3000 " in up[1]  # raised to the least rate IOS accepts
    assert "output 1000000000 187500000 375000000 " in down[1]


def test_juniper_profile_and_qos_parameters():
    assert render("juniper", Speed.parse(FULL)) == [
        ("ERX-Qos-Profile-Name", "ebs-subscriber"),
        ("ERX-Qos-Parameters", "ebs-rate-down 20000000"),
        ("ERX-Qos-Parameters", "ebs-rate-up 10000000"),
    ]


def test_accel_ppp_filter_id_is_down_slash_up_in_kbit():
    assert render("accel-ppp", Speed.parse(FULL)) == [("Filter-Id", "20000/10000")]
    # Rounded up: a 1500 bit/s limit must not become 1 kbit/s less, nor 0 (unlimited).
    assert render("accel-ppp", Speed.parse("500/1500")) == [("Filter-Id", "2/1")]


def test_other_vendor_and_no_speed_render_nothing():
    assert render("other", Speed.parse(FULL)) == []
    assert render("mikrotik", None) == []
    with pytest.raises(ValueError, match="unknown NAS vendor"):
        render("huawei", Speed.parse(FULL))


def _dictionary_attributes() -> set[str]:
    names = set()
    for path in glob.glob("/usr/share/freeradius/dictionary*"):
        for line in Path(path).read_text(errors="replace").splitlines():
            fields = line.split()
            if len(fields) >= 2 and fields[0] == "ATTRIBUTE":
                names.add(fields[1])
    return names


@pytest.mark.skipif(
    not glob.glob("/usr/share/freeradius/dictionary*"), reason="FreeRADIUS is not installed"
)
@pytest.mark.parametrize("vendor", VENDORS)
def test_every_rendered_attribute_exists_in_freeradius_dictionaries(vendor):
    known = _dictionary_attributes()
    for name, _ in render(vendor, Speed.parse(FULL)):
        assert name in known, f"{vendor}: {name} is not in FreeRADIUS's dictionaries"


def test_migration_check_admits_what_the_parser_admits():
    sql = Path(__file__).parents[2] / "sql/migrations/202612060900_baseline.sql"
    pattern = re.search(r"speed ~ '([^']+)'", sql.read_text()).group(1)
    for text in (FULL, "512k", "1.5M/0.5K", "1M/2M 2M/4M 1M/2M 8s/16s"):
        assert re.search(pattern, text), text
    for text in ("", "10M;DROP", "fast", "1 2 3 4 5 6 7"):
        assert not re.search(pattern, text), text


# ---------------------------------------------------------------------------------------
# Round trips (Hypothesis)

rates = st.integers(min_value=1, max_value=10**10)


@st.composite
def speeds(draw):
    values = [draw(rates), draw(rates)]
    groups = draw(st.integers(min_value=0, max_value=5))
    if groups >= 1:
        values += [draw(st.integers(0, 10**10)), draw(st.integers(0, 10**10))]
    if groups >= 2:
        values += [draw(st.integers(0, 10**10)), draw(st.integers(0, 10**10))]
    if groups >= 3:
        values += [draw(st.integers(0, 3600)), draw(st.integers(0, 3600))]
    if groups >= 4:
        values += [draw(st.integers(1, 8))]
    if groups >= 5:
        values += [draw(st.integers(0, 10**10)), draw(st.integers(0, 10**10))]
    return Speed(*values)


@given(speeds())
def test_parse_of_rendered_mikrotik_is_the_same_speed(speed):
    ((name, text),) = render("mikrotik", speed)
    assert name == "Mikrotik-Rate-Limit"
    assert Speed.parse(text) == speed


@given(rates)
def test_rate_spelling_round_trips(bits):
    assert parse_rate(format_rate(bits)) == bits


# ---------------------------------------------------------------------------------------
# The speed at a moment

DAY = Speed.parse("10M/20M")
NIGHT = Speed.parse("50M/100M")
WEEKEND = Speed.parse("20M/40M")

# Nights 23:00-07:00 Moscow time, weekends Saturday 00:00 for 2 days (2026-11-21 is a Saturday).
NIGHT_NODE = TimeNode(datetime(2026, 1, 1, 23, tzinfo=MOSCOW), timedelta(hours=8), Repeat.DAY)
WEEKEND_NODE = TimeNode(datetime(2026, 11, 21, tzinfo=MOSCOW), timedelta(days=2), Repeat.WEEK)
TARIFF = TariffSpeeds(
    default=DAY,
    overrides=(SpeedOverride(WEEKEND, (WEEKEND_NODE,)), SpeedOverride(NIGHT, (NIGHT_NODE,))),
)


def _msk(*args):
    return datetime(*args, tzinfo=MOSCOW)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (_msk(2026, 11, 24, 12), DAY),  # Tuesday noon
        (_msk(2026, 11, 24, 22, 59, 59), DAY),
        (_msk(2026, 11, 24, 23), NIGHT),  # the night starts...
        (_msk(2026, 11, 25, 0, 30), NIGHT),  # ...crosses midnight...
        (_msk(2026, 11, 25, 6, 59, 59), NIGHT),
        (_msk(2026, 11, 25, 7), DAY),  # ...and ends at 07:00
        (_msk(2026, 11, 28, 12), WEEKEND),  # Saturday noon
        (_msk(2026, 11, 28, 23, 30), NIGHT),  # a night inside the weekend wins while it lasts
        (_msk(2026, 11, 29, 7, 0), WEEKEND),  # then the weekend again
        (_msk(2026, 11, 30, 3), NIGHT),  # Sunday-to-Monday night outlives the weekend
    ],
)
def test_most_recently_started_override_wins(at, expected):
    assert speed_for(TARIFF, at, MOSCOW) == expected
    assert speed_for(TARIFF, at.astimezone(UTC), MOSCOW) == expected


def test_no_overrides_gives_the_default_and_no_default_is_unlimited():
    assert speed_for(TariffSpeeds(default=DAY), _msk(2026, 11, 24, 23), MOSCOW) == DAY
    night_only = TariffSpeeds(overrides=(SpeedOverride(NIGHT, (NIGHT_NODE,)),))
    assert speed_for(night_only, _msk(2026, 11, 24, 12), MOSCOW) is None
    assert speed_for(night_only, _msk(2026, 11, 24, 23, 30), MOSCOW) == NIGHT


def test_next_speed_change_is_the_next_override_edge():
    assert next_speed_change(TARIFF, _msk(2026, 11, 24, 12), MOSCOW) == _msk(2026, 11, 24, 23)
    assert next_speed_change(TARIFF, _msk(2026, 11, 24, 23, 30), MOSCOW) == _msk(2026, 11, 25, 7)
    assert next_speed_change(TariffSpeeds(default=DAY), _msk(2026, 11, 24), MOSCOW) is None
