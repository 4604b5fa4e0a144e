"""XML from a provider, parsed with the standard library and nothing more.

A provider's XML (or something claiming to be its) is untrusted input: a document type
declaration may declare entities that expand to gigabytes ("billion laughs") or name
external files. No protocol we speak needs one, so a document that declares a DOCTYPE or
an entity is refused before ElementTree ever sees it (defusedxml does the same; it is
not among our dependencies).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.parsers import expat

# Larger than any answer or request our protocols exchange (a QIWI status answer for 999
# invoices is about 60 KB).
MAX_BYTES = 4 * 1024 * 1024


class XmlRefused(ValueError):
    """Not XML we read: malformed, too large, or declaring a DOCTYPE or an entity."""


def parse(body: bytes) -> ET.Element:
    """The document's root element; :class:`XmlRefused` says why there is none."""
    if len(body) > MAX_BYTES:
        raise XmlRefused(f"XML of {len(body)} bytes is larger than {MAX_BYTES}")
    checker = expat.ParserCreate()

    def refuse(*_args) -> None:
        raise XmlRefused("XML with a DOCTYPE or an entity declaration is refused")

    checker.StartDoctypeDeclHandler = refuse
    checker.EntityDeclHandler = refuse
    try:
        checker.Parse(body, True)
        return ET.fromstring(body)  # noqa: S314 - the checker above refused DOCTYPEs
    except (expat.ExpatError, ET.ParseError) as exc:
        raise XmlRefused(f"malformed XML: {exc}") from None
