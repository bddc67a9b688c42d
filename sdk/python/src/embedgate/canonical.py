"""EG1 §2: from a URL to its canonical host, path and query, and from those
to the string to sign.

Everything works on decoded bytes, so re-ordering or re-encoding a URL
(lower-case hex, ``+`` for ``%20``, an encoded ``~``) never changes the
result, while any change to what the bytes mean does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple
from urllib.parse import unquote_to_bytes

from .errors import malformed
from .percent import (
    PATH_LITERAL,
    UNRESERVED,
    decode_query_component,
    encode_query_component,
    escape,
    escaped_byte,
)

#: The first line of every EG1 string to sign.
SCHEME = "EG1-HMAC-SHA256"

_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_HOST = re.compile(r"[A-Za-z0-9._~:\[\]-]+")

#: A decoded query parameter: (name, value) as bytes.
Pair = Tuple[bytes, bytes]


@dataclass(frozen=True)
class UrlParts:
    """An absolute URL cut into the pieces the specs read.

    ``path`` and ``query`` are raw (as written); ``query`` is None when the
    URL has no ``?``; ``fragment`` keeps its ``#``.
    """

    scheme: str
    authority: str
    path: str
    query: Optional[str]
    fragment: str


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise malformed("the URL is not valid text (lone surrogate)") from None


def split_url(url: str) -> UrlParts:
    """``scheme://authority/path?query#fragment``, cut as the Rust core cuts it:
    the authority ends at the first ``/``, ``?`` or ``#``."""
    colon = url.find(":")
    if colon < 0 or not url.startswith("://", colon):
        raise malformed("not an absolute URL (expected scheme://host/path)")
    scheme = url[:colon]
    if _URL_SCHEME.fullmatch(scheme) is None:
        raise malformed("the URL scheme is invalid")
    rest = url[colon + 3 :]
    rest, hash_, fragment = rest.partition("#")
    end = len(rest)
    for stop in ("/", "?"):
        at = rest.find(stop)
        if 0 <= at < end:
            end = at
    authority, target = rest[:end], rest[end:]
    path, question, query = target.partition("?")
    return UrlParts(scheme, authority, path, query if question else None, hash_ + fragment)


def canonical_host(authority: str) -> str:
    """The host as the browser sends it in ``Host``: lowercased, without a
    trailing ``:80`` or ``:443``. User information and any byte a host
    cannot hold are malformed."""
    if not authority:
        raise malformed("the URL has no host")
    if _HOST.fullmatch(authority) is None:
        raise malformed(
            "the URL carries user information (user@host), which is not allowed"
            if "@" in authority
            else "the host has characters a host cannot have"
        )
    for port in (":443", ":80"):
        if authority.endswith(port):
            authority = authority[: -len(port)]
            break
    return authority.lower()


def normalise_path(raw: str) -> str:
    """The path checked and normalised by EG1 §2 (revision 1.1).

    An empty path is ``/``. Malformed: not starting with ``/``; an encoded
    slash or backslash; a literal backslash; a control byte, literal or
    encoded; a bad escape; an empty segment but a final one; a dot segment,
    also when percent-encoded or followed by ``;`` parameters.
    """
    data = _utf8(raw) if raw else b"/"
    if not data.startswith(b"/"):
        raise malformed("the path does not start with /")
    out: List[str] = []
    i = 0
    while i < len(data):
        b = data[i]
        if b == 0x25:  # %
            d = escaped_byte(data, i)
            if d is None:
                raise malformed("the path has a % not followed by two hex digits")
            if d in (0x2F, 0x5C):
                raise malformed("the path has an encoded slash or backslash (%2F, %5C)")
            if d < 0x20 or d == 0x7F:
                raise malformed("the path has an encoded control byte")
            out.append(chr(d) if d in UNRESERVED else escape(d))
            i += 3
            continue
        if b == 0x5C:
            raise malformed("the path has a backslash")
        if b < 0x20 or b == 0x7F:
            raise malformed("the path has a control byte")
        out.append(chr(b) if b in PATH_LITERAL else escape(b))
        i += 1
    norm = "".join(out)
    segments = norm[1:].split("/")
    for k, segment in enumerate(segments):
        if not segment and k != len(segments) - 1:
            raise malformed("the path has an empty segment (//)")
        if is_dot_segment(segment):
            raise malformed("the path has a dot segment (., .., also with ;parameters)")
    return norm


def is_dot_segment(segment: str) -> bool:
    """Whether a normalised segment is ``.`` or ``..`` once decoded and cut at
    its first ``;`` (``..;x``, ``%2e%2e;jsessionid=1``), as servlet
    containers read it."""
    decoded = unquote_to_bytes(segment)
    return decoded.split(b";", 1)[0] in (b".", b"..")


def parse_query(raw: Optional[str]) -> List[Pair]:
    """EG1 §2 steps 1-3: split on ``&``, drop empty pieces, split each at its
    first ``=``, percent-decode name and value (``+`` is a space)."""
    if not raw:
        return []
    pairs: List[Pair] = []
    for piece in _utf8(raw).split(b"&"):
        if not piece:
            continue
        name, _, value = piece.partition(b"=")
        pairs.append((decode_query_component(name), decode_query_component(value)))
    return pairs


def canonical_query(pairs: Iterable[Pair]) -> str:
    """EG1 §2 steps 4-6: re-encode, sort by encoded name then value, join."""
    encoded = sorted((encode_query_component(n), encode_query_component(v)) for n, v in pairs)
    return "&".join(f"{n}={v}" for n, v in encoded)


@dataclass(frozen=True)
class CanonicalUrl:
    """A URL's canonical host and path and its decoded query parameters."""

    parts: UrlParts
    host: str
    path: str
    pairs: List[Pair]


def canonicalise(url: str) -> CanonicalUrl:
    """Splits and checks a URL by EG1 §2 (host, path, query escapes)."""
    parts = split_url(url)
    host = canonical_host(parts.authority)
    path = normalise_path(parts.path)
    return CanonicalUrl(parts, host, path, parse_query(parts.query))


def build_string_to_sign(host: str, path: str, pairs: Iterable[Pair]) -> str:
    """``EG1-HMAC-SHA256 LF host LF path LF query`` over every pair but ``eg_sig``."""
    query = canonical_query(p for p in pairs if p[0] != b"eg_sig")
    return f"{SCHEME}\n{host}\n{path}\n{query}"


def string_to_sign(url: str) -> str:
    """The EG1 string to sign of any absolute URL (EG1 §2).

    It checks only that the URL can be canonicalised, not its ``eg_``
    parameters. Raises :class:`~embedgate.EmbedError` (``malformed``) when
    it cannot be.

    >>> string_to_sign("https://EMBED.example.com:443/d?b=2&a=1&eg_sig=x")
    'EG1-HMAC-SHA256\\nembed.example.com\\n/d\\na=1&b=2'
    """
    c = canonicalise(url)
    return build_string_to_sign(c.host, c.path, c.pairs)
