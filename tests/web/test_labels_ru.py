"""Every admin page reads in Russian when the operator's language is Russian: the list,
one detail page and the add form of each menu entry, walked from the menu itself (a new
view is covered without editing this test), with the demo's data and a row in each
operations table. A page fails on FAB's English, on Python's values (True, None, a dict)
and on a stored code shown as it is stored."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from billing.notifications import templates
from cli import demo
from tests.web.conftest import ADMIN, login
from webapp import labels

# FAB's own English and Python's values; each is a whole word or phrase of the page.
DENIED = [
    "True", "False", "None", "__None", "Created At", "Updated At", "List", "Detail",
    "Record Count", "Add Filter", "Search", "Actions", "Save", "Back", "Edit", "Delete",
    "Show", "No records found", "Refresh", "Add", "Cancel", "Yes", "No",
]
# FAB's permission names (``can list on AccountView``) are identifiers of its security
# model, shown as data on the role pages: not labels.
PERMISSION_LINE = re.compile(r"^\[?(can \w|menu access|\w+ on \w+(View|Tab|Api)\b)")
# FAB's own permission tables list nothing but those identifiers.
PERMISSION_VIEWS = {"PermissionModelView", "ViewMenuModelView", "PermissionViewModelView"}
DENIED_RE = re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in DENIED) + r")(?![\w-])")
# A stored code: snake_case or SHOUTING_CASE, or a Python dict's quoted key.
CODE_RE = re.compile(r"(?<![\w.@/-])([a-z]+_[a-z_]+|[A-Z]+_[A-Z_]+)(?![\w.@/-])|\{'|\{\"")
# Codes of one word that are also plain English: denied by name.
WORD_CODES = {code for mapping in labels.CODE_MAPS.values() for code in mapping
              if isinstance(code, str) and re.fullmatch(r"[a-z]+", code)}


class VisibleText(HTMLParser):
    """The text a reader sees: no scripts, styles or hidden templates."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self._skip += 1
        placeholder = dict(attrs).get("placeholder")
        if placeholder:
            self.parts.append(placeholder)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)


def _seed_operations(conn) -> None:
    """One lease, CoA request, auth-log line and audit entry: the demo has none."""
    now = datetime.now(UTC)
    sub, account = conn.execute(
        "SELECT id, account_id FROM subaccounts ORDER BY id LIMIT 1").fetchone()
    pool = conn.execute("SELECT id FROM ip_pools ORDER BY id LIMIT 1").fetchone()[0]
    nas = conn.execute("SELECT id FROM nas ORDER BY id LIMIT 1").fetchone()[0]
    conn.execute(
        "INSERT INTO ip_leases (pool_id, address, state, subaccount_id, session_key, nas_ip,"
        " leased_at, expires_at) VALUES (%s, '10.10.0.9', 'active', %s, 'k1', '127.0.0.1',"
        " %s, %s + interval '1 hour')", (pool, sub, now, now))
    conn.execute(
        "INSERT INTO coa_requests (acct_unique_id, desired_state, kind, account_id, nas_id,"
        " reason, state, result, requested_at, finished_at) VALUES ('u1', 'guest', 'coa', %s, %s,"
        " 'balance_negative', 'done', 'ACK', %s, %s)", (account, nas, now, now))
    conn.execute(
        "INSERT INTO auth_log (logged_at, username, nas_ip, reason, accepted, guest)"
        " VALUES (%s, 'nobody', '127.0.0.1', 'unknown_login', false, false)", (now,))
    conn.execute(
        "INSERT INTO staff_audit_log (logged_at, action, object_type, object_id, old_values,"
        " new_values) VALUES (%s, 'edit', 'tariffs', '1', %s, %s)",
        (now, '{"name": "Старый", "active": true}', '{"name": "Новый", "active": false}'))


def menu_views(app):
    """The model views the menu links to, with their list URL."""
    linked = []
    for item in app.appbuilder.menu.get_list():
        for child in [item, *(item.childs or [])]:
            view = getattr(child, "baseview", None)
            if view is not None and getattr(view, "datamodel", None) is not None:
                linked.append(view)
    for view in dict.fromkeys(linked):
        yield view, f"/{view.route_base.strip('/')}/list/"


def other_menu_pages(app) -> list[str]:
    """The menu's pages that are not model lists: the desk, the reports, the occupancy."""
    urls = []
    with app.test_request_context():
        for item in app.appbuilder.menu.get_list():
            for child in [item, *(item.childs or [])]:
                view = getattr(child, "baseview", None)
                if (child.href or view is not None) and getattr(view, "datamodel", None) is None:
                    urls.append(child.get_url())
    return [url for url in dict.fromkeys(urls) if url and url.startswith("/")]


def _first_pk(app, view):
    with app.app_context():
        from webapp.extensions import db as sqla

        model = view.datamodel.obj
        row = sqla.session.query(model).first()
        return None if row is None else view.datamodel.get_pk_value(row)


def _problems(text: str, allowed: set[str]) -> list[str]:
    text = "\n".join(line for line in text.splitlines() if not PERMISSION_LINE.match(line))
    found = [m.group(0) for m in DENIED_RE.finditer(text)]
    found += [m.group(0) for m in CODE_RE.finditer(text) if m.group(0) not in allowed]
    words = set(re.findall(r"(?<![\w.@/:-])[a-z]+(?![\w.@/:-])", text))
    found += sorted((words & WORD_CODES) - allowed)
    return found


@pytest.fixture
def russian_admin(app, conn):
    demo.load(conn, tz=ZoneInfo("Europe/Moscow"))
    _seed_operations(conn)
    client = app.test_client()
    login(client, *ADMIN)
    client.get("/lang/ru")
    return client


def test_every_menu_page_reads_in_russian(app, conn, russian_admin):
    # Stored data that happens to look like a code (the demo's logins, the operator's
    # template codes) is not a label, nor are the field names a template is written with.
    allowed = {row[0] for row in conn.execute(
        "SELECT login FROM accounts UNION SELECT username FROM subaccounts "
        "UNION SELECT username FROM ab_user UNION SELECT name FROM nas "
        "UNION SELECT code FROM message_templates")} | set(templates.FIELDS)
    failures: dict[str, list[str]] = {}
    visited = 0
    for view, list_url in menu_views(app):
        if type(view).__name__ in PERMISSION_VIEWS:
            continue
        urls = [list_url]
        pk = _first_pk(app, view)
        if pk is not None and "can_show" in view.base_permissions:
            urls.append(f"/{view.route_base.strip('/')}/show/{pk}")
        if "can_add" in view.base_permissions:
            urls.append(f"/{view.route_base.strip('/')}/add")
        for url in urls:
            page = russian_admin.get(url, follow_redirects=True)
            assert page.status_code == 200, (url, page.status_code)
            visited += 1
            problems = _problems(visible_text(page.text), allowed)
            if problems:
                failures[url] = sorted(set(problems))
    others = other_menu_pages(app)
    assert "/cashier/" in others and any("report" in url for url in others), others
    for url in ["/", *others]:
        page = russian_admin.get(url, follow_redirects=True)
        assert page.status_code == 200, (url, page.status_code)
        visited += 1
        problems = _problems(visible_text(page.text), allowed)
        if problems:
            failures[url] = sorted(set(problems))
    assert visited > 50
    assert failures == {}, sorted(failures.items())


def test_the_denied_words_are_found_on_a_page_that_has_them():
    """The crawl's detector itself: it sees FAB's English, a Python value and a code."""
    text = visible_text("<div>List Users</div><td>True</td><td>AT_START</td>"
                        "<script>var x = None;</script><td>{'a': 1}</td><td>pppoe</td>")
    assert _problems(text, set()) == ["List", "True", "AT_START", "{'", "pppoe"]


def test_every_column_of_every_form_and_page_has_its_own_label(app):
    """A column without an entry in ``label_columns`` gets FAB's made-up English
    ("Created At", "Option82 Remote Id"), untranslatable: every column a view shows,
    edits or searches must be named by the view."""
    missing = {}
    for view in app.appbuilder.baseviews:
        if not hasattr(view, "show_fieldsets") or not view.__module__.startswith("webapp"):
            continue
        used = {*view.list_columns, *view.show_columns, *view.add_columns,
                *view.edit_columns, *view.search_columns}
        for fieldset in (view.show_fieldsets or []):
            used.update(fieldset[1]["fields"])
        # FAB fills the gaps with plain strings; a label of ours is a lazy translation.
        own = {c for c, text in view.label_columns.items() if not isinstance(text, str)}
        extra = {**(view.add_form_extra_fields or {}), **(view.edit_form_extra_fields or {}),
                 **(view.search_form_extra_fields or {})}
        absent = sorted(c for c in used if c not in own and c not in extra)
        if absent:
            missing[type(view).__name__] = absent
    assert missing == {}, sorted(missing.items())


def test_a_refused_speed_is_explained_in_russian(app, conn, russian_admin):
    """billing.speeds refuses by code; the form words the code, English nowhere."""
    from tests.web.conftest import submit

    tariff = conn.execute("SELECT id FROM tariffs ORDER BY id LIMIT 1").fetchone()[0]
    page = submit(russian_admin, "/tariffspeedview/add",
                  {"tariff": str(tariff), "speed": "10M/20M 30Q/40M"})
    text = visible_text(page.text)
    assert "Неверная скорость: скорость всплеска (burst): 30Q — не скорость" in text
    assert "not a rate" not in text


def test_ledger_descriptions_written_by_billing_read_in_russian(app, conn, russian_admin):
    """Stored as billing writes them (language-free), worded when shown."""
    account = conn.execute("SELECT id FROM accounts ORDER BY id LIMIT 1").fetchone()[0]
    other = conn.execute("SELECT id FROM accounts ORDER BY id DESC LIMIT 1").fetchone()[0]
    conn.execute(
        "INSERT INTO ledger_entries (account_id, kind, amount, idempotency_key, description,"
        " effective_at) VALUES (%s, 'payment', 10, 'labels:1', 'Payment through the API',"
        " now()), (%s, 'transfer', -5, 'labels:2', %s, now())",
        (account, account, f"Transfer to account {other}"))
    for url in ("/ledgerview/list/", f"/cashier/account/{account}"):
        text = visible_text(russian_admin.get(url).text)
        assert "Платёж через API" in text and f"Перевод на счёт {other}" in text, url
        assert "Payment through the API" not in text and "Transfer to account" not in text
