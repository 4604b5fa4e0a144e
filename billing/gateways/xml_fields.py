"""Reading a provider's XML request field by field, refusing what is ambiguous."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from billing.gateways.base import GatewayRefusal
from billing.gateways.safe_xml import XmlRefused, parse


def root(body: bytes, tag: str) -> ET.Element:
    """The request's root element, which must be ``tag``; anything else is ``bad_format``."""
    try:
        element = parse(body)
    except XmlRefused as exc:
        raise GatewayRefusal("bad_format", str(exc)) from None
    if element.tag != tag:
        raise GatewayRefusal("bad_format", f"the root element is {element.tag!r:.40}, "
                             f"not {tag}")
    return element


def child_text(parent: ET.Element, name: str) -> str | None:
    """The text of ``parent``'s one ``name`` child; None when there is none. Two of them
    (which one did the provider sign?) or one holding elements is ``bad_format``."""
    found = parent.findall(name)
    if not found:
        return None
    if len(found) > 1:
        raise GatewayRefusal("bad_format", f"element {name} is given {len(found)} times")
    if len(found[0]):
        raise GatewayRefusal("bad_format", f"element {name} holds elements, not a value")
    return (found[0].text or "").strip()
