"""The Russian catalogue covers every message of ours: the messages are extracted from
webapp/, billing/ and the templates the way ``pybabel extract -F babel.cfg`` does, and
each needs a Russian text in webapp/translations/ru/LC_MESSAGES/messages.po. The
catalogue itself must be clean: no msgid twice (the later silently wins), nothing fuzzy
(left out of the compiled catalogue). FAB's own words ("Add", "Edit", "List Groups")
count as ours: where FAB's catalogue has no Russian, ours must."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir

from webapp.app import merged_catalogue

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "webapp" / "translations" / "ru" / "LC_MESSAGES" / "messages.po"
METHODS = [("webapp/**.py", "python"), ("billing/**.py", "python"),
           ("webapp/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None,
            "_l": None, "lazy_ngettext": (1, 2), "N_": None}


def our_messages() -> dict[str, str]:
    """msgid -> where it was first found."""
    found: dict[str, str] = {}
    for path, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), METHODS, keywords=KEYWORDS,
            options_map={"webapp/templates/**.html": {"extensions": "jinja2.ext.do"}}):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, f"{path}:{_line}")
    return found


def test_the_extraction_finds_our_messages():
    """A broken mapping would find nothing and pass everything below."""
    messages = our_messages()
    assert len(messages) > 300
    assert "Accounts" in messages  # webapp/views/__init__.py
    assert "Cancel" in messages  # webapp/templates/appbuilder/general/confirm.html


# FAB's words our pages show that FAB's catalogue leaves in English.
FAB_WORDS = ["List", "Add", "Detail", "Delete", "Edit", "Show", "Yes", "No", "Refresh",
             "List Groups", "Groups", "Users", "Email", "Active", "Label", "Description",
             "Created At", "Changed On", "The user's password for authentication",
             "Views/Menus", "User confirmation needed", "Failed login count"]


def test_fab_words_on_our_pages_read_in_russian():
    catalog = merged_catalogue(PO, "ru")
    english = [word for word in FAB_WORDS
               if not catalog.get(word) or not catalog.get(word).string
               or catalog.get(word).string == word]
    assert english == []


def test_every_message_of_ours_has_a_russian_text():
    """Ours or FAB's: the app compiles FAB's catalogue under ours (webapp.app)."""
    catalog = merged_catalogue(PO, "ru")
    missing = {msgid: where for msgid, where in our_messages().items()
               if not (catalog.get(msgid) and catalog.get(msgid).string)}
    assert missing == {}, "\n".join(f"{w}: {m!r}" for m, w in sorted(missing.items()))


def test_the_catalogue_has_no_duplicates_and_nothing_fuzzy():
    text = PO.read_text(encoding="utf-8")
    msgids = re.findall(r'^msgid ((?:".*"\n)+)', text, re.M)
    seen, twice = set(), []
    for raw in msgids:
        msgid = "".join(re.findall(r'"(.*)"', raw))
        if msgid in seen:
            twice.append(msgid)
        seen.add(msgid)
    assert twice == []
    assert not re.search(r"^#,.*\bfuzzy\b", text, re.M)


def test_fab_typos_are_corrected_by_ours():
    """FAB's Russian misspells "Отображения"; ours, compiled over it, wins."""
    catalog = merged_catalogue(PO, "ru")
    assert catalog.get("Views/Menus").string == "Отображения/меню"
