//! The stable outcome codes of spec §3, and the error type that carries one.

use core::fmt;

/// Why a signed embed URL was refused.
///
/// The strings returned by [`Reason::as_str`] are the stable, machine-readable
/// API (spec §3): proxies put them in `Embedgate-Reason` headers and JSON
/// bodies, the CLI prints them, the JavaScript package throws them as `code`.
/// New reasons may be added in a minor release, hence `#[non_exhaustive]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The URL does not parse by the spec's rules, a required `eg_` parameter
    /// is missing or repeated, an unknown `eg_` name is present, or `eg_sig` is
    /// not 43 base64url characters.
    Malformed,
    /// `eg_kid` names no known secret.
    UnknownKey,
    /// The secret exists but is deactivated or past its own expiry.
    KeyInactive,
    /// The MAC does not match.
    BadSignature,
    /// `now > eg_exp + skew`.
    Expired,
    /// `eg_exp > now + max_url_ttl + skew`.
    ExpTooFar,
    /// The nonce was accepted before.
    Replayed,
    /// The path lies outside the secret's scopes.
    OutOfScope,
}

impl Reason {
    /// Every reason, in the order the verifier checks them.
    pub const ALL: [Reason; 8] = [
        Reason::Malformed,
        Reason::UnknownKey,
        Reason::KeyInactive,
        Reason::BadSignature,
        Reason::Expired,
        Reason::ExpTooFar,
        Reason::Replayed,
        Reason::OutOfScope,
    ];

    /// The stable machine code, e.g. `"bad_signature"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::UnknownKey => "unknown_key",
            Reason::KeyInactive => "key_inactive",
            Reason::BadSignature => "bad_signature",
            Reason::Expired => "expired",
            Reason::ExpTooFar => "exp_too_far",
            Reason::Replayed => "replayed",
            Reason::OutOfScope => "out_of_scope",
        }
    }

    /// Parses a stable code back into a reason.
    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == code)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal: one stable [`Reason`] plus a short human explanation.
///
/// The explanation is for people (CLI output, the playground) and its wording
/// may change between releases; match on [`EmbedError::reason`] instead. It
/// never contains a secret or a signature, only which rule failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbedError {
    reason: Reason,
    detail: &'static str,
}

impl EmbedError {
    pub(crate) const fn new(reason: Reason, detail: &'static str) -> Self {
        EmbedError { reason, detail }
    }

    pub(crate) const fn malformed(detail: &'static str) -> Self {
        EmbedError::new(Reason::Malformed, detail)
    }

    /// The stable reason.
    pub const fn reason(&self) -> Reason {
        self.reason
    }

    /// The stable machine code of the reason (same as `reason().as_str()`).
    pub const fn code(&self) -> &'static str {
        self.reason.as_str()
    }

    /// Which rule failed, in words. Wording is not part of the API.
    pub const fn detail(&self) -> &'static str {
        self.detail
    }
}

impl fmt::Display for EmbedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason.as_str(), self.detail)
    }
}

impl std::error::Error for EmbedError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        for r in Reason::ALL {
            assert_eq!(Reason::from_code(r.as_str()), Some(r));
        }
        let mut codes: Vec<_> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Reason::ALL.len());
        assert_eq!(Reason::from_code("nope"), None);
    }
}
