"""The stable reason codes of the specs' §3 and the error that carries one."""

from __future__ import annotations

from typing import Literal, Tuple

#: Why a signed embed URL was refused (EG1 §3, EGJ1 §3). The codes are the
#: stable API: match on them, not on the human ``detail``.
Reason = Literal[
    "malformed",
    "unknown_key",
    "key_inactive",
    "bad_signature",
    "expired",
    "exp_too_far",
    "replayed",
    "out_of_scope",
]

#: Every reason, in the order a verifier checks them.
REASONS: Tuple[Reason, ...] = (
    "malformed",
    "unknown_key",
    "key_inactive",
    "bad_signature",
    "expired",
    "exp_too_far",
    "replayed",
    "out_of_scope",
)


class EmbedError(Exception):
    """A URL, token or signing request refused with one stable reason.

    ``reason`` is one of :data:`REASONS`; a signer raises ``malformed`` for
    anything a verifier would refuse as malformed. ``detail`` names the rule
    that failed, in words that may change between releases. Neither ever
    holds a secret, a signature, a nonce or a token.
    """

    reason: Reason
    detail: str

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"

    def __repr__(self) -> str:
        return f"EmbedError({self.reason!r}, {self.detail!r})"


def malformed(detail: str) -> EmbedError:
    """An ``EmbedError`` with reason ``malformed``."""
    return EmbedError("malformed", detail)
