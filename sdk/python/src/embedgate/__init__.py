"""Sign embedgate embed URLs with the Python standard library.

Two forms of one contract, both verified by the embedgate proxy:

- **EG1-HMAC-SHA256** (:func:`sign_embed_url`): the content URL plus
  ``eg_kid``, ``eg_sub``, ``eg_exp``, ``eg_nonce``, optional ``eg_session``
  and ``eg_attr.NAME``, and ``eg_sig``, an HMAC-SHA256 over a canonical
  string (``embed-url-v1.md``);
- **EGJ1-HS256** (:func:`sign_embed_jwt`): the path and one ``eg_jwt``
  parameter, an HS256 JWT whose claims carry the host, path, content
  parameters and user (``embed-jwt-v1.md``).

:func:`verify_embed_url` verifies both (without replay state), for tests and
tools. Every refusal is an :class:`EmbedError` whose ``reason`` is one of
the specs' stable codes; no message ever holds a secret.
"""

from .canonical import normalise_path, string_to_sign
from .errors import REASONS, EmbedError, Reason
from .keys import EmbedKey, KeySpec
from .signer import Attrs, generate_nonce, sign_embed_jwt, sign_embed_url
from .verifier import Scheme, VerifiedEmbed, verify_embed_url

__version__ = "0.1.0"

__all__ = [
    "REASONS",
    "Attrs",
    "EmbedError",
    "EmbedKey",
    "KeySpec",
    "Reason",
    "Scheme",
    "VerifiedEmbed",
    "generate_nonce",
    "normalise_path",
    "sign_embed_jwt",
    "sign_embed_url",
    "string_to_sign",
    "verify_embed_url",
]
