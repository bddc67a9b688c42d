//! The value shapes of the configuration that are more than a string or a
//! number: durations, listen addresses, header names. Each deserializes
//! from TOML and from an environment variable's text alike, and says what
//! it expected when it is refused.

use std::fmt;
use std::time::Duration;

use http::header::HeaderName;
use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::Deserialize;

/// What a duration looks like, for error messages.
pub const DURATION_SHAPE: &str =
    "a duration (seconds, or a string such as \"500ms\", \"60s\", \"10m\", \"1h\")";

/// `90` (seconds), `"90"`, `"500ms"`, `"60s"`, `"10m"`, `"1h"`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    match unit.trim() {
        "" | "s" => Some(Duration::from_secs(n)),
        "ms" => Some(Duration::from_millis(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        _ => None,
    }
}

/// A duration key's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(DURATION_SHAPE)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
                Ok(Dur(Duration::from_secs(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                u64::try_from(v)
                    .map(|v| Dur(Duration::from_secs(v)))
                    .map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                parse_duration(v)
                    .map(Dur)
                    .ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// A whole number of seconds, written as a number or a duration string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Secs(pub u64);

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Dur(d) = Dur::deserialize(d)?;
        if d.subsec_nanos() != 0 {
            return Err(de::Error::custom("must be whole seconds"));
        }
        Ok(Secs(d.as_secs()))
    }
}

/// A `[listen]` address: `"off"`, or `HOST:PORT` where HOST is an IP
/// address (IPv6 in brackets) or a host name, resolved at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    /// The listener is disabled.
    Off,
    /// Listen here.
    At {
        /// IP address or host name, without brackets.
        host: String,
        /// The port; 0 picks a free one.
        port: u16,
    },
}

/// What a listen address looks like, for error messages.
pub const LISTEN_SHAPE: &str =
    "an address such as \"127.0.0.1:8080\", \"[::1]:8080\" or \"localhost:8080\"";

impl ListenAddr {
    /// Parses `"off"` or `HOST:PORT`.
    pub fn parse(s: &str) -> Option<ListenAddr> {
        let s = s.trim();
        if s == "off" {
            return Some(ListenAddr::Off);
        }
        let (host, port) = s.rsplit_once(':')?;
        let port: u16 = port.parse().ok()?;
        let host = match host.strip_prefix('[') {
            Some(v6) => {
                let inner = v6.strip_suffix(']')?;
                inner.parse::<std::net::Ipv6Addr>().ok()?;
                inner
            }
            None => host,
        };
        let name_ok = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_'));
        // A colon in an unbracketed host is an IPv6 address missing its
        // brackets: "::1:8080" is ambiguous.
        if !name_ok || (host.contains(':') && !s.starts_with('[')) {
            return None;
        }
        Some(ListenAddr::At {
            host: host.to_owned(),
            port,
        })
    }
}

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ListenAddr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(LISTEN_SHAPE)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ListenAddr, E> {
                ListenAddr::parse(v).ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
            }
        }
        d.deserialize_str(V)
    }
}

/// An HTTP header name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header(pub HeaderName);

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Header;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a header name such as \"X-Embed-User\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Header, E> {
                HeaderName::from_bytes(v.trim().as_bytes())
                    .map(Header)
                    .map_err(|_| E::invalid_value(Unexpected::Str(v), &self))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 10m "), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("5 days"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn listen_addresses() {
        let at = |h: &str, p| {
            Some(ListenAddr::At {
                host: h.to_owned(),
                port: p,
            })
        };
        assert_eq!(ListenAddr::parse("off"), Some(ListenAddr::Off));
        assert_eq!(ListenAddr::parse("127.0.0.1:8080"), at("127.0.0.1", 8080));
        assert_eq!(ListenAddr::parse("localhost:8080"), at("localhost", 8080));
        assert_eq!(ListenAddr::parse("[::1]:0"), at("::1", 0));
        assert_eq!(
            ListenAddr::parse("embed.example.com:443"),
            at("embed.example.com", 443)
        );
        for bad in [
            "8080",
            "localhost",
            ":8080",
            "::1:8080",
            "a b:1",
            "h:99999",
            "[x]:1",
        ] {
            assert_eq!(ListenAddr::parse(bad), None, "{bad}");
        }
    }
}
