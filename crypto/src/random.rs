//! Secret and unique identifiers from the operating system's CSPRNG.
//!
//! Everything here reads `getrandom` directly, so a token is as strong as the OS generator. The functions
//! are infallible: the OS generator does not fail on any supported platform once booted, and a server that
//! cannot obtain randomness must not continue issuing access tokens, so failure panics (documented per
//! function). None of these functions take untrusted input.

/// Letters and digits, the alphabet for device IDs, transaction IDs and key versions.
pub const ALPHANUMERIC: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Upper-case letters only, the alphabet Synapse uses for device IDs (easy to read aloud).
pub const UPPERCASE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// `N` bytes from the OS CSPRNG.
///
/// # Panics
/// If the operating system cannot provide randomness.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    fill_random(&mut bytes);
    bytes
}

/// Fill `buf` from the OS CSPRNG.
///
/// # Panics
/// If the operating system cannot provide randomness.
pub fn fill_random(buf: &mut [u8]) {
    if let Err(e) = getrandom::getrandom(buf) {
        panic!("operating system randomness unavailable: {e}");
    }
}

/// An unguessable token carrying `bytes` bytes of entropy, as unpadded URL-safe base64.
///
/// Use at least 32 bytes for access tokens and similar bearer secrets.
///
/// # Panics
/// If the operating system cannot provide randomness.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    fill_random(&mut buf);
    crate::base64::encode_url_safe(&buf)
}

/// A string of `len` characters drawn uniformly (no modulo bias) from `alphabet`.
///
/// Returns an empty string when `alphabet` is empty.
///
/// # Panics
/// If the operating system cannot provide randomness.
pub fn random_string(len: usize, alphabet: &str) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    let Ok(count) = u32::try_from(chars.len()) else {
        return String::new();
    };
    if count == 0 {
        return String::new();
    }
    // Accept only draws below the largest multiple of `count`, so every character is equally likely.
    let zone = u32::MAX - (u32::MAX % count);
    let mut out = String::with_capacity(len);
    let mut pool = [0u8; 64];
    let mut used = pool.len();
    let mut produced = 0;
    while produced < len {
        if used + 4 > pool.len() {
            fill_random(&mut pool);
            used = 0;
        }
        let draw = u32::from_le_bytes([pool[used], pool[used + 1], pool[used + 2], pool[used + 3]]);
        used += 4;
        if draw < zone {
            let index = usize::try_from(draw % count).unwrap_or(0);
            if let Some(&c) = chars.get(index) {
                out.push(c);
                produced += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_differ_between_calls() {
        assert_ne!(random_bytes::<32>(), random_bytes::<32>());
    }

    #[test]
    fn random_token_has_expected_length_and_alphabet() {
        let token = random_token(32);
        assert_eq!(token.len(), 43);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(
            crate::base64::decode_url_safe(&token).map(|b| b.len()).ok(),
            Some(32)
        );
    }

    #[test]
    fn random_string_uses_only_the_alphabet_and_exact_length() {
        let s = random_string(200, UPPERCASE);
        assert_eq!(s.len(), 200);
        assert!(s.bytes().all(|b| b.is_ascii_uppercase()));
        let unicode = random_string(10, "日本");
        assert_eq!(unicode.chars().count(), 10);
        assert!(unicode.chars().all(|c| c == '日' || c == '本'));
        assert_eq!(random_string(5, ""), "");
        assert_eq!(random_string(0, ALPHANUMERIC), "");
    }

    #[test]
    fn random_string_covers_the_whole_alphabet() {
        let s = random_string(4000, ALPHANUMERIC);
        assert!(ALPHANUMERIC.chars().all(|c| s.contains(c)));
    }
}
