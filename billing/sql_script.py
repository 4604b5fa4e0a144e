"""Split an SQL script into statements the way PostgreSQL reads it.

A migration that runs outside a transaction (``CREATE INDEX CONCURRENTLY``) has to be sent
one statement at a time: PostgreSQL runs a multi-statement query string as one implicit
transaction. The tests also read the migrations through this splitter to prove no function
body hides in them, so the rules here follow the server's lexer closely enough for our
files: ``--`` and nested ``/* */`` comments, quoted strings and identifiers, dollar quotes,
and SQL-standard ``BEGIN ATOMIC … END`` bodies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


@dataclass(frozen=True)
class Statement:
    text: str          # the statement itself, from its first token to its ';' (or the end)
    comments: str      # the comments and blank lines before it
    dollar_quoted: bool  # it holds a $…$ string: a function or DO body, as a rule


def _skip_comment(text: str, i: int) -> int:
    """The index after the comment starting at i, or i when none starts there."""
    if text.startswith("--", i):
        end = text.find("\n", i)
        return len(text) if end < 0 else end + 1
    if text.startswith("/*", i):
        depth, i = 1, i + 2
        while depth and i < len(text):
            if text.startswith("/*", i):
                depth, i = depth + 1, i + 2
            elif text.startswith("*/", i):
                depth, i = depth - 1, i + 2
            else:
                i += 1
        return i
    return i


def _skip_quoted(text: str, i: int) -> tuple[int, bool]:
    """The index after the string, identifier or dollar quote at i, and whether it was a
    dollar quote; (i, False) when none starts there."""
    c = text[i]
    if c in "'\"":
        i += 1
        while i < len(text):
            if text[i] == c and text.startswith(c * 2, i):
                i += 2
            elif text[i] == c:
                return i + 1, False
            else:
                i += 1
        return i, False
    if c == "$":
        tag = _DOLLAR_TAG.match(text, i)
        if tag:
            end = text.find(tag.group(0), tag.end())
            return (len(text) if end < 0 else end + len(tag.group(0))), True
    return i, False


def statements(text: str) -> list[Statement]:
    """The statements of a script in order; comments after the last one are dropped.

    A ';' inside a SQL-standard body (``BEGIN ATOMIC … END``) does not end the statement:
    as psql does, BEGIN in a CREATE statement opens a block, CASE inside one opens another,
    and END closes one."""
    found: list[Statement] = []
    i, lead_start, start, dollar, depth = 0, 0, None, False, 0
    while i < len(text):
        after = _skip_comment(text, i)
        if after != i:
            i = after
            continue
        if text[i].isspace():
            i += 1
            continue
        if start is None:
            start = i
        after, was_dollar = _skip_quoted(text, i)
        if after != i:
            i, dollar = after, dollar or was_dollar
            continue
        word = _WORD.match(text, i)
        if word:
            keyword = word.group(0).upper()
            in_create = text[start:start + 6].upper() == "CREATE"
            if (keyword == "BEGIN" and in_create) or (keyword == "CASE" and depth):
                depth += 1
            elif keyword == "END" and depth:
                depth -= 1
            i = word.end()
            continue
        if text[i] == ";" and not depth:
            found.append(Statement(text[start:i + 1], text[lead_start:start], dollar))
            lead_start, start, dollar = i + 1, None, False
        i += 1
    if start is not None:
        found.append(Statement(text[start:].rstrip(), text[lead_start:start], dollar))
    return found
