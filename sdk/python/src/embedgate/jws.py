"""EGJ1's compact JWS (RFC 7515) with HS256: writing one, and reading one
strictly (canonical base64url, JSON objects without repeated members)."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, NoReturn, Tuple

from . import base64url
from .errors import malformed
from .fields import check_kid
from .keys import mac

#: The JOSE header members EGJ1 allows (EGJ1 §1); any other is malformed.
HEADER_MEMBERS = frozenset({"alg", "kid", "typ"})
#: Length of the signature part: unpadded base64url of 32 bytes.
SIG_LEN = 43


def _json(value: object) -> bytes:
    # Compact, ASCII-only (non-ASCII as \\u escapes): what most JWT libraries write.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def encode_token(kid: str, claims: Mapping[str, object], key: bytes) -> str:
    """A compact JWS with header ``{"alg":"HS256","kid":...,"typ":"JWT"}``."""
    header = base64url.encode(_json({"alg": "HS256", "kid": check_kid(kid), "typ": "JWT"}))
    payload = base64url.encode(_json(dict(claims)))
    signing_input = f"{header}.{payload}".encode("ascii")
    return f"{header}.{payload}.{base64url.encode(mac(key, signing_input))}"


class _Repeated(ValueError):
    pass


def _object(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise _Repeated(name)
        out[name] = value
    return out


def _no_constant(name: str) -> NoReturn:
    # NaN and Infinity are not JSON.
    raise ValueError(name)


def parse_json_object(data: bytes, what: str) -> Dict[str, Any]:
    """``data`` as a UTF-8 JSON object, strictly: no repeated member name in
    any object, no NaN or Infinity, no lone surrogate escape, no BOM."""
    try:
        text = data.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_object, parse_constant=_no_constant)
        # A lone surrogate escape (\\ud800) parses but is not text.
        _check_text(value)
    except (ValueError, RecursionError):
        raise malformed(f"the {what} is not a JSON object") from None
    if not isinstance(value, dict):
        raise malformed(f"the {what} is not a JSON object")
    return value


def _check_text(value: object) -> None:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            v.encode("utf-8")  # UnicodeEncodeError is a ValueError
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


@dataclass(frozen=True)
class UnverifiedToken:
    """A token whose shape and header passed EGJ1 §3 step 1. Nothing in it
    may be acted on before :meth:`mac_matches`; its payload is not parsed."""

    kid: str
    signing_input: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    payload: bytes = field(repr=False)

    def mac_matches(self, key: bytes) -> bool:
        """EGJ1 §3 step 4, compared in constant time."""
        return hmac.compare_digest(mac(key, self.signing_input), self.signature)


def parse_token(token: bytes) -> UnverifiedToken:
    """EGJ1 §3 step 1 for the token: three canonical base64url parts, a
    43-character signature, and a header meeting EGJ1 §1."""
    try:
        text = token.decode("ascii")
    except UnicodeDecodeError:
        raise malformed("eg_jwt is not three base64url parts") from None
    parts = text.split(".")
    if len(parts) != 3:
        raise malformed("eg_jwt is not three base64url parts")
    header_b64, payload_b64, sig_b64 = parts
    header = base64url.decode_canonical(header_b64)
    payload = base64url.decode_canonical(payload_b64)
    signature = base64url.decode_canonical(sig_b64)
    if header is None or payload is None or signature is None:
        raise malformed("eg_jwt is not three canonical base64url parts")
    if len(sig_b64) != SIG_LEN:
        raise malformed("the eg_jwt signature must be 43 base64url characters")
    members = parse_json_object(header, "JOSE header")
    if not set(members) <= HEADER_MEMBERS:
        raise malformed("the JOSE header has a member other than alg, kid and typ")
    if members.get("alg") != "HS256":
        raise malformed('the JOSE header must have "alg":"HS256"')
    if "typ" in members and members["typ"] != "JWT":
        raise malformed('the JOSE header "typ" must be "JWT" when present')
    kid = members.get("kid")
    if not isinstance(kid, str):
        raise malformed('the JOSE header must have a "kid"')
    check_kid(kid)
    return UnverifiedToken(
        kid=kid,
        signing_input=f"{header_b64}.{payload_b64}".encode("ascii"),
        signature=signature,
        payload=payload,
    )
