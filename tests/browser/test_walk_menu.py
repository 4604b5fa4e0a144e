"""The admin's menu on a 1366-pixel screen (the common office laptop), in Russian and in
English: FAB's navbar stays one line, every menu entry and the user's menu visible on it,
none wrapped below or pushed out of sight. Measured in real Chromium from the laid-out
elements, not guessed from the labels."""

from __future__ import annotations

import pytest

from billing.staff import ensure_staff
from tests.browser.test_walk import login

pytestmark = pytest.mark.slow

ADMIN = ("boss", "Boss-Secret-2026")
# The user's menu shows the full name: a long one, as real names can be.
NAME = ("Александра", "Константинопольская")
WIDTH = 1366

# Every item of the navbar's top level: its box, and the navbar's own.
_MEASURE = """
() => {
  const bar = document.querySelector('.navbar');
  const box = (el) => { const r = el.getBoundingClientRect();
                        return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
                                width: r.width, height: r.height,
                                text: el.innerText.trim()}; };
  const items = [...bar.querySelectorAll('.navbar-nav > li')].map(box);
  const brand = bar.querySelector('.navbar-brand');
  return {bar: box(bar), items, brand: brand ? box(brand) : null,
          scrollWidth: document.documentElement.scrollWidth};
}
"""


@pytest.mark.parametrize("language", ["ru", "en"])
def test_the_admin_menu_is_one_line_at_1366(page, shots, stack, conn, language):
    ensure_staff(conn, *ADMIN, "Admin", *NAME)
    page.set_viewport_size({"width": WIDTH, "height": 768})
    login(page, *ADMIN)
    page.goto(f"/lang/{language}")
    page.goto("/accountview/list/")
    page.wait_for_load_state()
    laid = page.evaluate(_MEASURE)
    shots.take(page, f"menu-{language}")
    items, bar = laid["items"], laid["bar"]
    # The categories (Subscribers … Reports), the language and the user's menu.
    assert len(items) >= 8, items
    assert all(item["width"] > 0 and item["height"] > 0 for item in items), items
    first_top = items[0]["top"]
    # One line: every item on the first item's row, none wrapped below it.
    assert all(abs(item["top"] - first_top) < 2 for item in items), items
    # Nothing pushed past the right edge, nothing to scroll to sideways.
    assert all(item["right"] <= WIDTH for item in items), items
    assert laid["scrollWidth"] <= WIDTH
    # The bar itself one line high: Bootstrap's navbar is 50 px; a wrap makes it ~100.
    assert bar["height"] <= 60, bar
    if laid["brand"]:
        assert laid["brand"]["right"] <= items[0]["left"] + 1, laid
    # Each category still says what it is (an icon with a label, not an icon alone).
    categories = [item["text"] for item in items[:-2]]
    assert all(text for text in categories), categories
    assert not page.outside.urls and not page.script_errors
