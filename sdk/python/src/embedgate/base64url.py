"""Unpadded base64url in its one canonical spelling."""

from __future__ import annotations

import base64
import re
from typing import Optional

_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def encode(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode_canonical(text: str) -> Optional[bytes]:
    """The bytes ``text`` encodes, or None unless it is exactly what
    :func:`encode` writes for them: the alphabet only, no ``=``, no
    whitespace, no stray bits in the last character."""
    if len(text) % 4 == 1 or _ALPHABET.fullmatch(text) is None:
        return None
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # Re-encoding spells out the canonical form; any stray bits differ.
    return data if encode(data) == text else None
