"""Long forms read in groups, as ExpertBilling's guide walks through a tariff (general,
access, charges, the subscriber's options, blocking), and a name is one line of text."""

from __future__ import annotations

import re

from tests.web.test_labels_ru import visible_text

GROUPS = ["Общие параметры", "Параметры доступа", "Списания", "Возможности абонента",
          "Параметры блокировки"]
# One field of each group, by its label, in the group's order.
FIELDS = ["Название", "Тип доступа", "Стоимость пакета", "Карты экспресс-оплаты",
          "Стоимость блокировки"]


def _positions(text: str, words: list[str]) -> list[int]:
    """Where each word first stands after the one before it (the menu names some too)."""
    found, start = [], text.find(words[0])
    for word in words:
        start = text.find(word, start)
        found.append(start)
    return found


def test_the_tariff_form_is_grouped_like_the_guide(as_admin, conn):
    as_admin.get("/lang/ru")
    for url in ("/tariffview/add",):
        text = visible_text(as_admin.get(url).text)
        groups = _positions(text, GROUPS)
        assert -1 not in groups, groups
        fields = [text.find(word, start) for word, start in zip(FIELDS, groups, strict=True)]
        # Each field comes after its own group's title and before the next group's.
        for field, start, end in zip(fields, groups, [*groups[1:], len(text)], strict=True):
            assert start < field < end, (field, start, end)


def test_names_are_one_line_inputs_and_descriptions_keep_their_box(as_admin):
    page = as_admin.get("/tariffview/add").text
    assert re.search(r'<input[^>]+name="name"', page)
    assert not re.search(r'<textarea[^>]+name="name"', page)
    assert re.search(r'<textarea[^>]+name="description"', page)
    for url in ("/switchview/add", "/nasview/add", "/ippoolview/add",
                "/settlementperiodview/add"):
        assert not re.search(r'<textarea[^>]+name="name"', as_admin.get(url).text), url


def test_the_subaccount_form_is_grouped_and_keeps_every_field(app, as_admin):
    as_admin.get("/lang/ru")
    text = visible_text(as_admin.get("/subaccountview/add").text)
    groups = _positions(text, ["Адреса и NAS", "Опция 82 DHCP", "Правила доступа"])
    assert -1 not in groups, groups
    view = next(v for v in app.appbuilder.baseviews if type(v).__name__ == "SubaccountView")
    # The groups hold exactly the fields the form had before it was grouped.
    assert sorted(view.edit_columns) == sorted(
        f for _title, group in view.edit_fieldsets for f in group["fields"])
    assert "password" in view.add_columns and "password" not in view.edit_columns


def test_nas_and_periodic_service_forms_are_grouped_and_keep_every_field(app, as_admin):
    as_admin.get("/lang/ru")
    for name, url, titles in (
            ("NasView", "/nasview/add", ["Общие параметры", "RADIUS", "Отключение и CoA"]),
            ("PeriodicServiceView", "/periodicserviceview/add",
             ["Общие параметры", "Списания", "Срок действия"])):
        text = visible_text(as_admin.get(url).text)
        assert -1 not in _positions(text, titles), (url, _positions(text, titles))
        view = next(v for v in app.appbuilder.baseviews if type(v).__name__ == name)
        for columns, fieldsets in ((view.add_columns, view.add_fieldsets),
                                   (view.edit_columns, view.edit_fieldsets)):
            assert sorted(columns) == sorted(
                f for _title, group in fieldsets for f in group["fields"]), name
