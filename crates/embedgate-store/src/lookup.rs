//! How callers name a secret: by id, public client id, or name.

use std::fmt;

/// A reference to one live secret.
///
/// Names match case-insensitively (ASCII), like the uniqueness rule.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lookup {
    /// The row id (`sec_…` / `cred_…`).
    Id(String),
    /// The public client id (`ek_…`); embed secrets only.
    ClientId(String),
    /// The name.
    Name(String),
    /// Whatever matches, trying id, then client id, then name. This is what
    /// the CLI uses for its `<SECRET>` arguments.
    Any(String),
}

impl Lookup {
    /// [`Lookup::Any`].
    pub fn any(s: impl Into<String>) -> Lookup {
        Lookup::Any(s.into())
    }

    /// [`Lookup::Id`].
    pub fn id(s: impl Into<String>) -> Lookup {
        Lookup::Id(s.into())
    }

    /// [`Lookup::ClientId`].
    pub fn client_id(s: impl Into<String>) -> Lookup {
        Lookup::ClientId(s.into())
    }

    /// [`Lookup::Name`].
    pub fn name(s: impl Into<String>) -> Lookup {
        Lookup::Name(s.into())
    }

    /// The text looked up.
    pub fn as_str(&self) -> &str {
        match self {
            Lookup::Id(s) | Lookup::ClientId(s) | Lookup::Name(s) | Lookup::Any(s) => s,
        }
    }
}

impl fmt::Debug for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Lookup::Id(_) => "Id",
            Lookup::ClientId(_) => "ClientId",
            Lookup::Name(_) => "Name",
            Lookup::Any(_) => "Any",
        };
        write!(f, "{kind}({:?})", self.as_str())
    }
}

impl From<&str> for Lookup {
    fn from(s: &str) -> Lookup {
        Lookup::any(s)
    }
}
