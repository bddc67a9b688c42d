"""Embed secrets: the bytes a MAC is keyed with, and a verifier's view of one."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Mapping, Optional, Tuple, Union

from .canonical import normalise_path
from .errors import EmbedError


def mac(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 of ``message`` under ``key``: the MAC of EG1 and EGJ1."""
    return hmac.new(key, message, hashlib.sha256).digest()


def secret_bytes(secret: Union[str, bytes]) -> bytes:
    """The key of the MAC: the UTF-8 bytes of the secret exactly as issued.

    Error messages never include the secret.
    """
    if isinstance(secret, str):
        try:
            key = secret.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("the secret is not valid text (lone surrogate)") from None
    elif isinstance(secret, (bytes, bytearray)):
        key = bytes(secret)
    else:
        raise TypeError(f"the secret must be str or bytes, not {type(secret).__name__}")
    if not key:
        raise ValueError("the secret is empty")
    return key


@dataclass(frozen=True, eq=False)
class EmbedKey:
    """One embed secret as a verifier needs it. ``repr`` never shows the secret.

    ``expires_at`` is the secret's own expiry (Unix seconds; after it the key
    answers ``key_inactive``); ``scopes`` are path prefixes the key is limited
    to (empty: anywhere), normalised by EG1 §2.
    """

    secret: bytes = field(repr=False)
    active: bool = True
    expires_at: Optional[int] = None
    scopes: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "secret", secret_bytes(self.secret))
        try:
            scopes = tuple(normalise_path(s) for s in self.scopes)
        except EmbedError as e:
            raise ValueError(f"a scope is not a valid path: {e.detail}") from None
        object.__setattr__(self, "scopes", scopes)

    def usable_at(self, now: int) -> bool:
        """Active and not past its own expiry."""
        return self.active and (self.expires_at is None or now <= self.expires_at)

    def covers(self, path: str) -> bool:
        """Whether the normalised ``path`` lies inside the key's scopes, on a
        segment boundary (``/d/sales`` covers ``/d/sales/x``, not
        ``/d/salesforce``)."""
        return not self.scopes or any(_in_scope(path, s) for s in self.scopes)


def _in_scope(path: str, prefix: str) -> bool:
    if not path.startswith(prefix):
        return False
    rest = path[len(prefix) :]
    return not rest or prefix.endswith("/") or rest.startswith("/")


#: What :func:`~embedgate.verify_embed_url` accepts for one kid: the secret
#: (str or bytes), an :class:`EmbedKey`, or an object as in a key file or
#: the vector files (``{"secret": "...", "active": true, "expires_at": N,
#: "scopes": ["/d/"]}``).
KeySpec = Union[str, bytes, EmbedKey, Mapping[str, object]]

_KEY_MEMBERS = frozenset({"secret", "active", "expires_at", "scopes"})


def to_embed_key(spec: KeySpec) -> EmbedKey:
    """Reads one :data:`KeySpec`."""
    if isinstance(spec, EmbedKey):
        return spec
    if isinstance(spec, (str, bytes, bytearray)):
        return EmbedKey(secret_bytes(spec))
    unknown = set(spec) - _KEY_MEMBERS
    if unknown:
        raise ValueError(f"unknown key members: {sorted(unknown)}")
    secret = spec.get("secret")
    active = spec.get("active", True)
    expires_at = spec.get("expires_at")
    scopes = spec.get("scopes", ())
    if not isinstance(secret, (str, bytes)):
        raise TypeError("a key's secret must be str or bytes")
    if not isinstance(active, bool):
        raise TypeError("a key's active must be a bool")
    if expires_at is not None and (isinstance(expires_at, bool) or not isinstance(expires_at, int)):
        raise TypeError("a key's expires_at must be an integer or None")
    if isinstance(scopes, str) or not isinstance(scopes, (list, tuple)):
        raise TypeError("a key's scopes must be a list of paths")
    scope_paths = []
    for s in scopes:
        if not isinstance(s, str):
            raise TypeError("a key's scopes must be a list of paths")
        scope_paths.append(s)
    return EmbedKey(secret_bytes(secret), active, expires_at, tuple(scope_paths))
