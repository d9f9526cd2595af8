//! Comparing secrets (tokens, token hashes) in constant time, so a secret cannot be guessed
//! byte by byte from how long a refusal takes.

/// Whether `a` and `b` are equal, taking the same time for every position of a difference.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn equal_only_when_equal() {
        for (a, b, want) in [
            ("abc", "abc", true),
            ("abc", "abd", false),
            ("abc", "abcd", false),
            ("", "", true),
            ("é", "e", false),
        ] {
            assert_eq!(super::same(a, b), want, "{a:?} {b:?}");
        }
    }
}
