"""Signing embed URLs: EG1 (``eg_`` parameters and ``eg_sig``) and EGJ1
(one ``eg_jwt`` parameter holding an HS256 JWT).

Both refuse, with ``EmbedError("malformed", ...)``, whatever a verifier
would refuse as malformed, so a URL they return is always well-formed.
"""

from __future__ import annotations

import math
import secrets
import time
from typing import Dict, Iterable, List, Mapping, Optional, Tuple, Union

from . import base64url
from .canonical import CanonicalUrl, canonicalise, string_to_sign
from .errors import malformed
from .fields import (
    MAX_DECIMAL,
    MAX_JSON_INT,
    check_attr_name,
    check_attr_value,
    check_int,
    check_kid,
    check_nonce,
    check_sub,
    optional_int,
    utf8_bytes,
    utf8_text,
)
from .jws import encode_token
from .keys import mac, secret_bytes
from .percent import encode_query_component

#: User attributes: a mapping, or (name, value) pairs in the order to write them.
Attrs = Union[Mapping[str, str], Iterable[Tuple[str, str]]]

#: The default lifetime of a signed URL, seconds.
DEFAULT_TTL = 300


def generate_nonce() -> str:
    """A fresh nonce: 22 characters of ``A-Z a-z 0-9 _ -`` (128 random bits)."""
    return secrets.token_urlsafe(16)


def sign_embed_url(
    url: str,
    *,
    kid: str,
    secret: Union[str, bytes],
    sub: str,
    ttl: int = DEFAULT_TTL,
    attrs: Optional[Attrs] = None,
    session: Optional[int] = None,
    nonce: Optional[str] = None,
    now: Optional[float] = None,
) -> str:
    """Signs ``url`` as an EG1-HMAC-SHA256 embed URL.

    ``url`` is the absolute content URL with its content parameters
    (filters) already in its query; it must carry no ``eg_`` parameter. The
    ``eg_`` parameters are appended to its query, before any fragment, in the
    order the Rust signer writes them: ``eg_kid``, ``eg_sub``, ``eg_exp``,
    ``eg_nonce``, ``eg_session`` (when given), ``eg_attr.NAME`` in the
    caller's order, then ``eg_sig``.

    ``secret`` is the embed secret as issued (str: its UTF-8 bytes).
    ``eg_exp`` is ``floor(now) + ttl``; ``now`` defaults to the clock and
    ``nonce`` to a fresh :func:`generate_nonce`.
    """
    key = secret_bytes(secret)
    _require_str(url=url, kid=kid, sub=sub)
    check_kid(kid)
    check_sub(sub)
    exp = _expiry(now, ttl, MAX_DECIMAL)
    nonce = _nonce(nonce)
    session = optional_int(session, "session")
    attr_list = _attrs(attrs)
    base, hash_, fragment = url.partition("#")
    content = canonicalise(base)
    _refuse_eg_params(content)

    params: List[Tuple[str, str]] = [
        ("eg_kid", kid),
        ("eg_sub", encode_query_component(utf8_bytes(sub, "the user id (sub)"))),
        ("eg_exp", str(exp)),
        ("eg_nonce", nonce),
    ]
    if session is not None:
        params.append(("eg_session", str(session)))
    for name, value in attr_list:
        params.append(("eg_attr." + name, encode_query_component(value.encode("utf-8"))))
    signed = base + ("&" if "?" in base else "?") + "&".join(f"{n}={v}" for n, v in params)
    # Built from the URL returned, exactly as a verifier will build it.
    sts = string_to_sign(signed)
    sig = base64url.encode(mac(key, sts.encode("ascii")))
    return f"{signed}&eg_sig={sig}{hash_}{fragment}"


def sign_embed_jwt(
    url: str,
    *,
    kid: str,
    secret: Union[str, bytes],
    sub: str,
    ttl: int = DEFAULT_TTL,
    attrs: Optional[Attrs] = None,
    session: Optional[int] = None,
    nonce: Optional[str] = None,
    now: Optional[float] = None,
) -> str:
    """Signs ``url`` as an EGJ1-HS256 embed URL: ``scheme://host/path?eg_jwt=<JWT>``.

    The URL's query becomes the token's ``params`` (a name given more than
    once becomes an array, in order), its host in canonical form ``aud`` and
    its normalised path ``path``; the output URL keeps the authority as
    written, the normalised path and any fragment. The JOSE header is
    ``{"alg":"HS256","kid":...,"typ":"JWT"}``; the claims are ``aud``,
    ``path``, ``params`` (when the query has any), ``sub``, ``exp``, ``jti``,
    ``attrs`` (when given) and ``session`` (when given).

    The arguments are as for :func:`sign_embed_url`.
    """
    key = secret_bytes(secret)
    _require_str(url=url, kid=kid, sub=sub)
    check_kid(kid)
    check_sub(sub)
    exp = _expiry(now, ttl, MAX_JSON_INT)
    nonce = _nonce(nonce)
    session = optional_int(session, "session", MAX_JSON_INT)
    attr_list = _attrs(attrs)
    base, hash_, fragment = url.partition("#")
    content = canonicalise(base)
    _refuse_eg_params(content)

    params: Dict[str, Union[str, List[str]]] = {}
    for raw_name, raw_value in content.pairs:
        name = utf8_text(raw_name, "a query parameter name (EGJ1 params)")
        value = utf8_text(raw_value, "a query parameter value (EGJ1 params)")
        held = params.get(name)
        if held is None:
            params[name] = value
        elif isinstance(held, list):
            held.append(value)
        else:
            params[name] = [held, value]
    claims: Dict[str, object] = {"aud": content.host, "path": content.path}
    if params:
        claims["params"] = params
    claims.update(sub=sub, exp=exp, jti=nonce)
    if attr_list:
        claims["attrs"] = dict(attr_list)
    if session is not None:
        claims["session"] = session
    token = encode_token(kid, claims, key)
    parts = content.parts
    return f"{parts.scheme}://{parts.authority}{content.path}?eg_jwt={token}{hash_}{fragment}"


def _require_str(**args: object) -> None:
    for name, value in args.items():
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, not {type(value).__name__}")


def _expiry(now: Optional[float], ttl: int, maximum: int) -> int:
    if now is None:
        now = time.time()
    if isinstance(now, bool) or not isinstance(now, (int, float)) or not math.isfinite(now):
        raise TypeError("now must be Unix seconds (int or float)")
    if now < 0:
        raise malformed("now must not be before 1970")
    check_int(ttl, "ttl")
    return check_int(math.floor(now) + ttl, "the expiry (now + ttl)", maximum)


def _nonce(nonce: Optional[str]) -> str:
    if nonce is None:
        return generate_nonce()
    if not isinstance(nonce, str):
        raise TypeError("nonce must be a str")
    return check_nonce(nonce)


def _attrs(attrs: Optional[Attrs]) -> List[Tuple[str, str]]:
    if attrs is None:
        return []
    items = attrs.items() if isinstance(attrs, Mapping) else attrs
    out: List[Tuple[str, str]] = []
    seen = set()
    for name, value in items:
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("attribute names and values must be str")
        check_attr_name(name)
        check_attr_value(value)
        if name in seen:
            raise malformed("an attribute is given twice")
        seen.add(name)
        out.append((name, value))
    return out


def _refuse_eg_params(content: CanonicalUrl) -> None:
    if any(name.startswith(b"eg_") for name, _ in content.pairs):
        raise malformed("the URL to sign already has eg_ parameters")
