//! Standard base64 (RFC 4648 section 4) decoding for TSIG secrets.
//!
//! Hand-written because no base64 crate is a direct dependency and a key file needs only
//! this: decoding a few dozen characters, whitespace allowed, padding optional. Errors give
//! a position, never the text, because the text is the secret.

/// Why a secret did not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Base64Error {
    /// A character outside the alphabet at this 0-based position (whitespace not counted).
    InvalidCharacter(usize),
    /// The length leaves a lone 6-bit group, which encodes no whole byte.
    InvalidLength,
    /// Something after `=` padding.
    DataAfterPadding,
}

impl std::fmt::Display for Base64Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Base64Error::InvalidCharacter(at) => {
                write!(f, "a character that is not base64 at position {}", at + 1)
            }
            Base64Error::InvalidLength => f.write_str("a length no base64 text has"),
            Base64Error::DataAfterPadding => f.write_str("characters after the '=' padding"),
        }
    }
}

fn value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes `text`, ignoring ASCII whitespace.
pub(super) fn decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut padding = false;
    for (at, c) in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace())
        .enumerate()
    {
        if c == b'=' {
            padding = true;
            continue;
        }
        if padding {
            return Err(Base64Error::DataAfterPadding);
        }
        let v = value(c).ok_or(Base64Error::InvalidCharacter(at))?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // 6 leftover bits mean one character alone in its group: no byte ends there.
    if bits >= 6 {
        return Err(Base64Error::InvalidLength);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_with_and_without_padding() {
        assert_eq!(decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode("aGVs\n bG8h").unwrap(), b"hello!");
        assert_eq!(decode("").unwrap(), b"");
        assert_eq!(decode("+/8=").unwrap(), [0xfb, 0xff]);
    }

    #[test]
    fn errors_point_at_the_problem_without_the_text() {
        assert_eq!(decode("aG!s"), Err(Base64Error::InvalidCharacter(2)));
        assert_eq!(decode("aGVsb"), Err(Base64Error::InvalidLength));
        assert_eq!(decode("aG==Vs"), Err(Base64Error::DataAfterPadding));
        assert!(!decode("a$").unwrap_err().to_string().contains('$'));
    }
}
