"""The subscriber's words for a refused login: every reason has them in Russian and
English, the ISP's wording wins, a text that cannot travel in one Reply-Message is
refused at load, and the words reach rlm_ebs's post-auth hook through its config intact."""

from __future__ import annotations

import pytest

from billing import reject_messages
from billing import settings as settings_mod
from billing.access import Reason
from billing.reject_messages import DEFAULT_TEXTS, RejectMessageError, texts
from rlm_ebs import reject_reply


def test_every_reject_reason_has_words_in_both_languages():
    assert set(DEFAULT_TEXTS) == set(Reason) - {Reason.OK, Reason.DEGRADED}  # accepts
    for words in DEFAULT_TEXTS.values():
        assert set(words) == {"ru", "en"}
        assert all(0 < len(w.encode()) <= reject_messages.REPLY_MESSAGE_LIMIT
                   for w in words.values())
    russian = texts("ru")
    assert russian["balance_negative"] == "Недостаточно средств на счёте, пополните баланс"
    # A stranger learns nothing about which logins exist.
    assert russian["unknown_login"] == russian["wrong_password"]
    assert texts("en")["outside_access_window"] == "Your tariff gives no access at this time"
    assert texts("en-GB") == texts("en") and texts("de") == texts("en")


def test_the_isp_words_a_reason_or_silences_it():
    chosen = texts("ru", {"balance_negative": "Пополните счёт: pay.example.ru",
                          "unknown_login": ""})
    assert chosen["balance_negative"] == "Пополните счёт: pay.example.ru"
    assert "unknown_login" not in chosen
    assert chosen["wrong_password"] == DEFAULT_TEXTS[Reason.WRONG_PASSWORD]["ru"]


@pytest.mark.parametrize(("overrides", "words"), [
    ({"no_such_reason": "x"}, "no reject reason"),
    ({"balance_zero": "я" * 127}, "254 bytes"),
    ({"balance_zero": "line\nbreak"}, "control characters"),
    ({"balance_zero": 5}, "must be a string"),
    (["balance_zero"], "a dict"),
])
def test_a_text_that_cannot_be_sent_is_refused(overrides, words):
    with pytest.raises(RejectMessageError, match=words):
        texts("ru", overrides)


def test_settings_refuse_it_at_load_naming_the_setting(tmp_path, monkeypatch):
    monkeypatch.setattr(settings_mod, "SYSTEM_SETTINGS", tmp_path / "etc.py")
    monkeypatch.setattr(settings_mod, "CHECKOUT_SETTINGS", tmp_path / "checkout.py")
    named = tmp_path / "s.py"
    named.write_text("RADIUS_REJECT_MESSAGES = {'balance_zero': 'a' * 254}\n")
    with pytest.raises(settings_mod.SettingsError, match="RADIUS_REJECT_MESSAGES: balance_zero"):
        settings_mod.load({"EBS_SETTINGS": str(named)})
    named.write_text("RADIUS_REJECT_MESSAGES = {'balance_zero': 'Пополните счёт'}\n")
    loaded = settings_mod.load({"EBS_SETTINGS": str(named)})
    assert loaded.RADIUS_REJECT_MESSAGES == {"balance_zero": "Пополните счёт"}


def test_the_words_travel_through_the_module_config_and_back():
    chosen = texts("ru", {"balance_zero": 'Кавычки " и \\ и $ и 100%'})
    items = reject_messages.config_items(chosen)
    assert all(v.isascii() and not set(v) & set('"\\$') for v in items.values())
    config = {"time_zone": "Europe/Moscow", **items}
    assert reject_reply.from_config(config) == chosen


def test_post_auth_answers_the_reason_or_nothing():
    words = texts("ru")
    request = {"config": (("EBS-Reason", "balance_negative"), ("EBS-Decision", "reject"))}
    assert reject_reply.post_auth(request, words) == (
        reject_reply.UPDATED,
        {"reply": (("Reply-Message", ":=", words["balance_negative"]),)})
    silent = texts("ru", {"balance_negative": ""})
    assert reject_reply.post_auth(request, silent) == reject_reply.NOOP
    assert reject_reply.post_auth({"config": ()}, words) == reject_reply.NOOP
