//! RFC 3339 timestamps to and from Unix seconds.
//!
//! The store speaks i64 Unix seconds; humans type and read RFC 3339. A small
//! converter here keeps the CLI and a later admin API consistent without a
//! date-time dependency.

use crate::error::StoreError;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` (a space or lowercase `t`
/// also separates date and time) into Unix seconds; fractions are dropped.
///
/// ```
/// use embedgate_store::parse_rfc3339;
/// assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
/// assert_eq!(parse_rfc3339("2024-02-29T12:00:00+01:00").unwrap(), 1_709_204_400);
/// ```
pub fn parse_rfc3339(s: &str) -> Result<i64, StoreError> {
    let bad = || StoreError::invalid("time", "expected RFC 3339, e.g. 2025-12-31T23:59:59Z");
    let b = s.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Result<i64, StoreError> {
        let part = b.get(r).ok_or_else(bad)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        std::str::from_utf8(part)
            .ok()
            .and_then(|p| p.parse().ok())
            .ok_or_else(bad)
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_len = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if d < 1 || d > month_len || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
    }
    let offset = match b.get(i..) {
        Some(b"Z" | b"z") => 0,
        Some([sign @ (b'+' | b'-'), _, _, b':', _, _]) => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return Err(bad()),
    };
    Ok(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec.min(59) - offset)
}

/// Formats Unix seconds as RFC 3339 in UTC, e.g. `2025-12-31T23:59:59Z`.
///
/// ```
/// assert_eq!(embedgate_store::format_rfc3339(1_709_204_400), "2024-02-29T11:00:00Z");
/// ```
pub fn format_rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for t in [0, 1, 86_399, 951_782_400, 1_709_204_400, 4_102_444_799, -1] {
            assert_eq!(parse_rfc3339(&format_rfc3339(t)).expect("parse"), t);
        }
        assert_eq!(
            parse_rfc3339("2025-06-01T10:00:00.123-02:30").expect("parse"),
            parse_rfc3339("2025-06-01T12:30:00Z").expect("parse")
        );
    }

    #[test]
    fn rejects_nonsense() {
        for s in [
            "",
            "2025-02-29T00:00:00Z",
            "2025-13-01T00:00:00Z",
            "2025-01-01T00:00:00",
            "2025-01-01",
            "tomorrow",
            "2025-01-01T00:00:00+0100",
        ] {
            assert_eq!(parse_rfc3339(s).expect_err(s).code(), "invalid_input");
        }
    }
}
