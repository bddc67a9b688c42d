"""Verifying EG1 and EGJ1 URLs (EG1 §3, EGJ1 §3), without replay state.

A verifier in a server also remembers accepted nonces (step ``replayed``);
this one is for tests, tools and backends that check what they signed, so
it never answers ``replayed``.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass, field
from typing import Dict, List, Literal, Mapping, Optional, Tuple, Union

from . import base64url
from .canonical import (
    CanonicalUrl,
    Pair,
    build_string_to_sign,
    canonical_query,
    canonicalise,
    normalise_path,
)
from .errors import EmbedError, malformed
from .fields import (
    MAX_JSON_INT,
    check_attr_name,
    check_attr_value,
    check_int,
    check_kid,
    check_nonce,
    check_sub,
    parse_decimal,
    utf8_bytes,
    utf8_text,
)
from .jws import parse_json_object, parse_token
from .keys import EmbedKey, KeySpec, mac, to_embed_key

#: Which scheme a URL was signed with.
Scheme = Literal["EG1", "EGJ1"]

# The last character of a canonical 43-character signature carries 4 bits
# of the MAC and 2 zero bits (EG1 §1).
_SIG_LAST = frozenset("AEIMQUYcgkosw048")


@dataclass(frozen=True)
class VerifiedEmbed:
    """What a verified URL says, and what to forward to the content backend.

    ``session`` is the session length to grant: the requested one clamped to
    the verifier's ``max_session``, or ``max_session`` when none was asked.
    ``path`` and ``query`` are normalised (``query`` without the scheme's own
    parameters); :attr:`forward` joins them. ``repr`` leaves out the nonce.
    """

    scheme: Scheme
    kid: str
    sub: str
    exp: int
    nonce: str = field(repr=False)
    session: int
    requested_session: Optional[int]
    attrs: Mapping[str, str]
    host: str
    path: str
    query: str

    @property
    def forward(self) -> str:
        """The path and query to forward: ``path`` or ``path?query``."""
        return f"{self.path}?{self.query}" if self.query else self.path


def verify_embed_url(
    url: str,
    *,
    keys: Mapping[str, KeySpec],
    now: Union[int, float],
    skew: int = 60,
    max_url_ttl: int = 600,
    max_session: int = 3600,
) -> VerifiedEmbed:
    """Verifies a signed embed URL, EG1 or EGJ1 (a URL with ``eg_jwt`` is
    always read as EGJ1), at Unix time ``now``.

    ``keys`` maps each kid to its secret (str or bytes), an
    :class:`~embedgate.EmbedKey`, or a key object as in the vector files
    (``{"secret": ..., "active": true}``).

    Returns the verified :class:`VerifiedEmbed`, or raises
    :class:`~embedgate.EmbedError` with the first failing reason in the
    specs' order. Nonces are not remembered: it never answers ``replayed``.
    """
    if isinstance(now, bool) or not isinstance(now, (int, float)) or not math.isfinite(now):
        raise TypeError("now must be Unix seconds (int or float)")
    policy = _Policy(math.floor(now), skew, max_url_ttl, max_session)
    c = canonicalise(url)
    if any(name == b"eg_jwt" for name, _ in c.pairs):
        return _verify_jwt(c, keys, policy)
    return _verify_eg1(c, keys, policy)


@dataclass(frozen=True)
class _Policy:
    now: int
    skew: int
    max_url_ttl: int
    max_session: int

    def session(self, requested: Optional[int]) -> int:
        return self.max_session if requested is None else min(requested, self.max_session)


def _key_for(keys: Mapping[str, KeySpec], kid: str, now: int) -> EmbedKey:
    spec = keys.get(kid)
    if spec is None:
        raise EmbedError("unknown_key", "no secret has this kid")
    key = to_embed_key(spec)
    if not key.usable_at(now):
        raise EmbedError("key_inactive", "the secret is deactivated or past its expiry")
    return key


def _check_times(exp: int, policy: _Policy, nbf: Optional[int] = None) -> None:
    if policy.now > exp + policy.skew:
        raise EmbedError("expired", "the URL has expired")
    if nbf is not None and nbf > policy.now + policy.skew:
        raise EmbedError("expired", "the token is not valid yet (nbf)")
    if exp > policy.now + policy.max_url_ttl + policy.skew:
        raise EmbedError("exp_too_far", "the expiry is further ahead than the verifier allows")


def _check_scope(key: EmbedKey, path: str) -> None:
    if not key.covers(path):
        raise EmbedError("out_of_scope", "the path is outside the secret's scopes")


# -- EG1 ---------------------------------------------------------------------


@dataclass
class _Eg1Fields:
    kid: Optional[str] = None
    sub: Optional[str] = None
    exp: Optional[int] = None
    nonce: Optional[str] = None
    session: Optional[int] = None
    sig: Optional[bytes] = None
    attrs: Dict[str, str] = field(default_factory=dict)


def _ascii(value: bytes, what: str) -> str:
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        raise malformed(f"{what} has a byte outside its alphabet") from None


def _eg1_fields(pairs: List[Pair]) -> _Eg1Fields:
    """EG1 §3 step 1 for the ``eg_`` parameters: each known, given once,
    meeting its rule in §1."""
    f = _Eg1Fields()
    seen = set()
    for name, value in pairs:
        if not name.startswith(b"eg_"):
            continue
        if name in seen:
            raise malformed("an eg_ parameter is given more than once")
        seen.add(name)
        if name == b"eg_kid":
            f.kid = check_kid(_ascii(value, "eg_kid"))
        elif name == b"eg_sub":
            f.sub = check_sub(utf8_text(value, "eg_sub"))
        elif name == b"eg_exp":
            f.exp = parse_decimal(_ascii(value, "eg_exp"), "eg_exp")
        elif name == b"eg_nonce":
            f.nonce = check_nonce(_ascii(value, "eg_nonce"))
        elif name == b"eg_session":
            f.session = parse_decimal(_ascii(value, "eg_session"), "eg_session")
        elif name == b"eg_sig":
            f.sig = _decode_sig(value)
        elif name.startswith(b"eg_attr."):
            attr = check_attr_name(_ascii(name[len(b"eg_attr.") :], "an attribute name"))
            f.attrs[attr] = check_attr_value(utf8_text(value, "an attribute value"))
        else:
            raise malformed("unknown eg_ parameter")
    return f


def _decode_sig(value: bytes) -> bytes:
    text = _ascii(value, "eg_sig")
    sig = base64url.decode_canonical(text) if len(text) == 43 else None
    if sig is None or text[-1] not in _SIG_LAST:
        raise malformed("eg_sig must be the canonical 43-character base64url of 32 bytes")
    return sig


def _verify_eg1(c: CanonicalUrl, keys: Mapping[str, KeySpec], policy: _Policy) -> VerifiedEmbed:
    f = _eg1_fields(c.pairs)
    if f.kid is None or f.sub is None or f.exp is None or f.nonce is None or f.sig is None:
        raise malformed("a required eg_ parameter (kid, sub, exp, nonce, sig) is missing")
    key = _key_for(keys, f.kid, policy.now)
    sts = build_string_to_sign(c.host, c.path, c.pairs)
    if not hmac.compare_digest(mac(key.secret, sts.encode("ascii")), f.sig):
        raise EmbedError("bad_signature", "the signature does not match")
    _check_times(f.exp, policy)
    _check_scope(key, c.path)
    # Sorted by name, as the Rust verifier hands them out.
    attrs = dict(sorted(f.attrs.items()))
    return VerifiedEmbed(
        scheme="EG1",
        kid=f.kid,
        sub=f.sub,
        exp=f.exp,
        nonce=f.nonce,
        session=policy.session(f.session),
        requested_session=f.session,
        attrs=attrs,
        host=c.host,
        path=c.path,
        query=canonical_query(p for p in c.pairs if not p[0].startswith(b"eg_")),
    )


# -- EGJ1 --------------------------------------------------------------------


def _verify_jwt(c: CanonicalUrl, keys: Mapping[str, KeySpec], policy: _Policy) -> VerifiedEmbed:
    if len(c.pairs) != 1:
        raise malformed("eg_jwt must be the only query parameter, given once")
    token = parse_token(c.pairs[0][1])
    key = _key_for(keys, token.kid, policy.now)
    if not token.mac_matches(key.secret):
        raise EmbedError("bad_signature", "the signature does not match")
    claims = parse_json_object(token.payload, "payload")
    aud = claims.get("aud")
    if not isinstance(aud, str):
        raise malformed('the claims must have "aud", a string')
    path = claims.get("path")
    if not isinstance(path, str):
        raise malformed('the claims must have "path", a string')
    signed_path = normalise_path(path)
    pairs = _params(claims["params"]) if "params" in claims else []
    sub = claims.get("sub")
    if not isinstance(sub, str):
        raise malformed('the claims must have "sub", a string')
    check_sub(sub)
    if "exp" not in claims:
        raise malformed('the claims must have "exp"')
    exp = check_int(claims["exp"], "exp", MAX_JSON_INT)
    jti = claims.get("jti")
    if not isinstance(jti, str):
        raise malformed('the claims must have "jti", a string')
    check_nonce(jti)
    # An optional claim that is present must be valid: null is not an integer.
    nbf = check_int(claims["nbf"], "nbf", MAX_JSON_INT) if "nbf" in claims else None
    session = check_int(claims["session"], "session", MAX_JSON_INT) if "session" in claims else None
    attrs = _attrs(claims["attrs"]) if "attrs" in claims else {}
    if aud != c.host or signed_path != c.path:
        raise EmbedError("bad_signature", "the token was signed for another host or path")
    _check_times(exp, policy, nbf)
    _check_scope(key, c.path)
    return VerifiedEmbed(
        scheme="EGJ1",
        kid=token.kid,
        sub=sub,
        exp=exp,
        nonce=jti,
        session=policy.session(session),
        requested_session=session,
        attrs=dict(sorted(attrs.items())),
        host=c.host,
        path=c.path,
        query=canonical_query(pairs),
    )


def _params(value: object) -> List[Pair]:
    """The ``params`` claim as (name, value) pairs."""
    if not isinstance(value, dict):
        raise malformed('"params" must be an object')
    pairs: List[Tuple[bytes, bytes]] = []
    for name, v in value.items():
        if name.startswith("eg_"):
            raise malformed('a "params" name starts with eg_')
        values = v if isinstance(v, list) else [v]
        for item in values:
            if not isinstance(item, str):
                raise malformed('a "params" value must be a string or an array of strings')
            pairs.append((utf8_bytes(name, "a params name"), utf8_bytes(item, "a params value")))
    return pairs


def _attrs(value: object) -> Dict[str, str]:
    if not isinstance(value, dict):
        raise malformed('"attrs" must be an object')
    out: Dict[str, str] = {}
    for name, v in value.items():
        check_attr_name(name)
        if not isinstance(v, str):
            raise malformed('an "attrs" value must be a string')
        out[name] = check_attr_value(v)
    return out
