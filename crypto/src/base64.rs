//! Base64 as Matrix uses it: unpadded everywhere, standard alphabet for keys, signatures and hashes,
//! URL-safe alphabet for event IDs of room v4+ and for tokens.
//!
//! Decoding is tolerant in the ways peers differ in practice (padding present or absent; non-zero trailing
//! bits, which Python's decoder ignores: the spec's own test seed has them) and strict in the alphabet:
//! characters outside it are rejected rather than skipped.

use crate::Error;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const ENCODE_CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new().with_encode_padding(false);
const DECODE_CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_encode_padding(false)
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);

const STANDARD_ENCODER: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, ENCODE_CONFIG);
const URL_SAFE_ENCODER: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, ENCODE_CONFIG);
const STANDARD_DECODER: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, DECODE_CONFIG);
const URL_SAFE_DECODER: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, DECODE_CONFIG);

/// Unpadded standard-alphabet base64 (`+`, `/`), the spec's encoding for keys, signatures and hashes.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD_ENCODER.encode(bytes)
}

/// Unpadded URL-safe base64 (`-`, `_`), used for v4+ event IDs and opaque tokens.
pub fn encode_url_safe(bytes: &[u8]) -> String {
    URL_SAFE_ENCODER.encode(bytes)
}

/// Decode standard-alphabet base64, padded or unpadded.
pub fn decode(input: &str) -> Result<Vec<u8>, Error> {
    STANDARD_DECODER
        .decode(input)
        .map_err(|e| Error::InvalidBase64(e.to_string()))
}

/// Decode URL-safe base64, padded or unpadded.
pub fn decode_url_safe(input: &str) -> Result<Vec<u8>, Error> {
    URL_SAFE_DECODER
        .decode(input)
        .map_err(|e| Error::InvalidBase64(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_without_padding_in_both_alphabets() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"f"), "Zg");
        assert_eq!(encode(b"fo"), "Zm8");
        assert_eq!(encode(b"foo"), "Zm9v");
        assert_eq!(encode(&[0xfb, 0xff]), "+/8");
        assert_eq!(encode_url_safe(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn decodes_padded_and_unpadded_input() {
        assert_eq!(decode("Zg").ok(), Some(b"f".to_vec()));
        assert_eq!(decode("Zg==").ok(), Some(b"f".to_vec()));
        assert_eq!(decode("Zm8").ok(), Some(b"fo".to_vec()));
        assert_eq!(decode("Zm8=").ok(), Some(b"fo".to_vec()));
        assert_eq!(decode_url_safe("-_8").ok(), Some(vec![0xfb, 0xff]));
        assert_eq!(decode_url_safe("-_8=").ok(), Some(vec![0xfb, 0xff]));
        assert_eq!(decode("").ok(), Some(Vec::new()));
    }

    #[test]
    fn decodes_input_with_nonzero_trailing_bits_like_python() {
        // The spec's signing-key seed ends in '1', whose low bits are not zero.
        let seed = decode("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1");
        assert_eq!(seed.map(|s| s.len()).ok(), Some(32));
    }

    #[test]
    fn rejects_characters_of_the_other_alphabet_and_garbage() {
        assert!(decode("-_8").is_err());
        assert!(decode_url_safe("+/8").is_err());
        assert!(decode("Zm 9v").is_err());
        assert!(decode("Z").is_err());
        assert!(decode("Zm9v!").is_err());
    }

    #[test]
    fn round_trips_every_length_up_to_64() {
        let data: Vec<u8> = (0u8..64).map(|i| i.wrapping_mul(37)).collect();
        for len in 0..=data.len() {
            let slice = &data[..len];
            assert_eq!(decode(&encode(slice)).ok().as_deref(), Some(slice));
            assert_eq!(
                decode_url_safe(&encode_url_safe(slice)).ok().as_deref(),
                Some(slice)
            );
        }
    }
}
