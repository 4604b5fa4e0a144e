"""Security headers on every answer.

Pages may be framed by nobody, types are never sniffed, the referrer leaves only within
our own origin, and the content security policy names no origin but our own (Chart.js
and every asset are served by the app itself). Flask-AppBuilder's templates carry inline
scripts and styles, so HTML pages allow ``'unsafe-inline'`` for those two; everything
else (JSON, CSV, files) gets a policy that allows nothing at all.
"""

from __future__ import annotations


def page_policy(*form_targets: str) -> str:
    """The pages' policy; ``form_targets`` are origins a form of the page may post to
    besides our own (the cabinet's Pay page posts its signed form to the provider)."""
    return "; ".join((
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        " ".join(("form-action 'self'", *form_targets)),
        "frame-ancestors 'none'",
    ))


PAGE_POLICY = page_policy()
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
FIXED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def add_security_headers(response):
    for name, value in FIXED.items():
        response.headers.setdefault(name, value)
    policy = PAGE_POLICY if response.mimetype == "text/html" else DATA_POLICY
    response.headers.setdefault("Content-Security-Policy", policy)
    return response
