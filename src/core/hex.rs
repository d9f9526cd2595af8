//! Lowercase hex, for hashes, tokens, signatures and generated ids.

/// `bytes` as lowercase hex, two digits each.
pub fn encode(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The bytes of `hex` (either case); `None` for an odd length or a non-hex digit.
pub fn decode(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    hex.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_is_not_hex() {
        assert_eq!(encode(&[0, 15, 16, 255]), "000f10ff");
        assert_eq!(encode(&[]), "");
        assert_eq!(decode("000f10ff"), Some(vec![0, 15, 16, 255]));
        assert_eq!(decode("000F10FF"), Some(vec![0, 15, 16, 255]));
        for bad in ["0", "0g", "é0", "0 "] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }
}
