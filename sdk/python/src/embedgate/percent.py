"""Percent-encoding as EG1 §2 defines it: byte classes and upper-case hex."""

from __future__ import annotations

import re
from typing import FrozenSet, List, Optional
from urllib.parse import unquote_to_bytes

from .errors import malformed

_ALNUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

#: ``A-Z a-z 0-9 - . _ ~``: the only bytes a canonical query keeps literal.
UNRESERVED: FrozenSet[int] = frozenset(_ALNUM + b"-._~")
#: What a normalised path carries literally: unreserved, the
#: sub-delimiters, ``:``, ``@`` and ``/``.
PATH_LITERAL: FrozenSet[int] = UNRESERVED | frozenset(b"!$&'()*+,;=:@/")
#: The alphabet of ``eg_kid`` and ``eg_nonce``: ``A-Z a-z 0-9 _ -``.
TOKEN: FrozenSet[int] = frozenset(_ALNUM + b"_-")

_HEX = frozenset(b"0123456789abcdefABCDEF")
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
# How each byte is written in a canonical query component.
_QUERY_FORM: List[str] = [chr(b) if b in UNRESERVED else f"%{b:02X}" for b in range(256)]


def escaped_byte(data: bytes, i: int) -> Optional[int]:
    """The byte of the escape ``%XX`` at ``data[i]``, or None if it is not one."""
    pair = data[i + 1 : i + 3]
    if len(pair) != 2 or pair[0] not in _HEX or pair[1] not in _HEX:
        return None
    return int(pair, 16)


def escape(b: int) -> str:
    """``%XX`` with upper-case hex."""
    return f"%{b:02X}"


def decode_query_component(raw: bytes) -> bytes:
    """A query name or value, percent-decoded with ``+`` as a space.

    A ``%`` not followed by two hex digits is malformed (EG1 §2 step 3).
    """
    if _BAD_ESCAPE.search(raw):
        raise malformed("the query has a % not followed by two hex digits")
    return unquote_to_bytes(raw.replace(b"+", b" "))


def encode_query_component(data: bytes) -> str:
    """Every unreserved byte as it is, every other byte ``%XX`` (EG1 §2 step 4)."""
    return "".join(_QUERY_FORM[b] for b in data)
