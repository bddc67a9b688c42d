//! The fingerprint shown in place of a value: its first 4 characters and its
//! length, enough to tell secrets apart without making them guessable.

/// Values shorter than this show only their length: 4 characters of an
/// 8-character password would give away half of it.
const MIN_LEN_FOR_PREFIX: usize = 16;

/// `"AbCd…(32)"` for a 32-character value, `"…(8)"` for a short one.
pub(crate) fn fingerprint(value: &str) -> String {
    let len = value.chars().count();
    if len < MIN_LEN_FOR_PREFIX {
        format!("…({len})")
    } else {
        let prefix: String = value.chars().take(4).collect();
        format!("{prefix}…({len})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_length() {
        assert_eq!(fingerprint("AbCdefghijklmnopqrstuvwxyz012345"), "AbCd…(32)");
        assert_eq!(fingerprint("hunter22"), "…(8)");
    }
}
