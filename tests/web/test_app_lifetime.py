"""An app let go is freed, and its Flask-AppBuilder and views with it.

Every web test builds an app of its own. One that a module-level object keeps stays for the
rest of the run: about 30,000 objects a test (FAB's views, their filters and forms), so that
each full collection took longer until setups of the later tests took seconds."""

import gc
import weakref

from tests.web.conftest import start_app


def test_an_app_let_go_is_freed_with_its_views(web_settings):
    app = start_app(web_settings)
    builder = weakref.ref(app.appbuilder)
    views = [weakref.ref(view) for view in app.appbuilder.baseviews]
    assert len(views) > 50
    del app
    gc.collect()
    assert builder() is None
    assert [view() for view in views if view() is not None] == []
