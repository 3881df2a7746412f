"""Checks for text that other people read: titles, topics, names.

Refused, never silently stripped (bad input gets a clear error and loses nothing):

- control characters (C0, DEL, C1) and the Unicode line and paragraph separators: a title or
  a name is one line, and NUL or CR/LF in one breaks logs, notifications and calendar files;
- bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): they
  reorder what follows them, so a name or a title could show as something it is not (the
  "Trojan Source" trick). Right-to-left scripts need none of them; the implicit marks
  U+200E/U+200F/U+061C stay allowed.
"""

from __future__ import annotations

import re

CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def without_bidi_controls(value: str) -> str:
    """``value`` unchanged, or ValueError if it holds a bidirectional override or isolate."""
    if BIDI_CONTROLS.search(value):
        raise ValueError(
            "may not contain bidirectional overrides or isolates (U+202A-U+202E, U+2066-U+2069)"
        )
    return value


def one_line(value: str) -> str:
    """``value`` unchanged, or ValueError if it holds control characters or bidi overrides."""
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("may not contain control characters (NUL, line breaks, tabs)")
    return without_bidi_controls(value)
