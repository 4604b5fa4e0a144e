"""Provider XML is read without a DOCTYPE: entity bombs and external entities are refused
before parsing, whatever the document's encoding; malformed XML is refused too."""

from __future__ import annotations

import pytest

from billing.gateways.safe_xml import MAX_BYTES, XmlRefused, parse


def test_a_plain_answer_is_read():
    root = parse(b'<?xml version="1.0" encoding="utf-8"?>\n<response>'
                 b'<result-code fatal="false">0</result-code></response>')
    assert root.tag == "response" and root.find("result-code").get("fatal") == "false"


@pytest.mark.parametrize("body", [
    b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><r>&b;</r>',
    b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
    b'<!DOCTYPE r><r/>',
    '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE r><r/>'.encode("utf-16"),
], ids=["laughs", "external", "bare-doctype", "utf-16"])
def test_a_doctype_is_refused(body):
    with pytest.raises(XmlRefused, match="DOCTYPE"):
        parse(body)


@pytest.mark.parametrize("body", [b"", b"<r>", b"<r/>junk", b"not xml", b"<r>\xff</r>"])
def test_malformed_xml_is_refused(body):
    with pytest.raises(XmlRefused, match="malformed"):
        parse(body)


def test_an_oversized_document_is_refused_unread():
    with pytest.raises(XmlRefused, match="larger"):
        parse(b"<r>" + b" " * MAX_BYTES + b"</r>")
