"""The rules of the scheme's own fields (EG1 §1, EGJ1 §1), shared by the
signer and the verifier so that one refuses exactly what the other would."""

from __future__ import annotations

import re
from typing import Optional

from .errors import malformed

_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_ATTR_NAME = re.compile(r"[a-z0-9_-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")

#: The largest integer a JSON NumericDate or session may be (EGJ1 §1).
MAX_JSON_INT = 2**53
#: The largest ``eg_exp`` / ``eg_session`` (the Rust core reads a u64).
MAX_DECIMAL = 2**64 - 1


def check_kid(kid: str) -> str:
    """``eg_kid`` / JOSE ``kid``: 1-64 of ``A-Z a-z 0-9 _ -``."""
    if not (1 <= len(kid) <= 64 and _TOKEN.fullmatch(kid)):
        raise malformed("the kid must be 1-64 of A-Z a-z 0-9 _ -")
    return kid


def check_nonce(nonce: str) -> str:
    """``eg_nonce`` / ``jti``: 16-128 of ``A-Z a-z 0-9 _ -``."""
    if not (16 <= len(nonce) <= 128 and _TOKEN.fullmatch(nonce)):
        raise malformed("the nonce must be 16-128 of A-Z a-z 0-9 _ -")
    return nonce


def utf8_text(data: bytes, what: str) -> str:
    """``data`` as UTF-8 text (overlong forms and surrogates refused)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise malformed(f"{what} must be UTF-8 text") from None


def utf8_bytes(text: str, what: str) -> bytes:
    """The UTF-8 bytes of ``text`` (a lone surrogate is not text)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise malformed(f"{what} must be UTF-8 text") from None


def has_control(text: str) -> bool:
    """Whether ``text`` holds a byte below 0x20 or 0x7F."""
    return _CONTROL.search(text) is not None


def check_sub(sub: str) -> str:
    """``eg_sub`` / ``sub``: 1-256 bytes of UTF-8 without control characters."""
    if not 1 <= len(utf8_bytes(sub, "the user id (sub)")) <= 256:
        raise malformed("the user id (sub) must be 1-256 bytes of UTF-8")
    if has_control(sub):
        raise malformed("the user id (sub) must not hold control characters")
    return sub


def check_attr_name(name: str) -> str:
    """An attribute name (``eg_attr.NAME``): 1-64 of ``a-z 0-9 _ -``."""
    if _ATTR_NAME.fullmatch(name) is None:
        raise malformed("an attribute name must be 1-64 of a-z 0-9 _ -")
    return name


def check_attr_value(value: str) -> str:
    """An attribute value: UTF-8 without control characters."""
    utf8_bytes(value, "an attribute value")
    if has_control(value):
        raise malformed("an attribute value must not hold control characters")
    return value


def parse_decimal(text: str, what: str) -> int:
    """Decimal, no sign, no leading zeros, at most :data:`MAX_DECIMAL`."""
    if _DECIMAL.fullmatch(text) is None or int(text) > MAX_DECIMAL:
        raise malformed(f"{what} must be decimal digits without sign or leading zeros")
    return int(text)


def check_int(value: object, what: str, maximum: int = MAX_DECIMAL) -> int:
    """An argument or claim that must be an integer in ``0 ..= maximum``
    (``bool`` is not an integer here)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise malformed(f"{what} must be an integer from 0 to {maximum}")
    return value


def optional_int(value: Optional[object], what: str, maximum: int = MAX_DECIMAL) -> Optional[int]:
    """:func:`check_int` for a value that may be absent (None)."""
    return None if value is None else check_int(value, what, maximum)
