//! The crate's single error type.
//!
//! Every fallible function in `hearth_crypto` returns [`Error`]. Variants are fine-grained where a caller
//! must react differently (a missing signature is not the same as a forged one; a malformed content hash is
//! not the same as a mismatching one) and coarse where the caller can only report the failure.

use thiserror::Error;

/// Why a JSON document was rejected by the parser in [`crate::canonical_json`].
///
/// Kept separate from [`Error`] so callers can map parse failures to a single `M_BAD_JSON`/`M_NOT_JSON`
/// while tests can still assert on the exact reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The input is not valid UTF-8.
    InvalidUtf8,
    /// The input ended inside a value (this includes empty input).
    UnexpectedEnd,
    /// A byte that cannot start or continue the value at this position.
    UnexpectedCharacter,
    /// A complete value was followed by something other than whitespace.
    TrailingCharacters,
    /// Arrays/objects nest deeper than [`crate::canonical_json::MAX_DEPTH`].
    TooDeep,
    /// The same key appears twice in one object (strict mode only).
    DuplicateKey,
    /// A `\uXXXX` escape names a UTF-16 surrogate that is not part of a valid pair.
    LoneSurrogate,
    /// A backslash escape that JSON does not define, or a malformed `\u` escape.
    InvalidEscape,
    /// A raw (unescaped) control character U+0000..U+001F inside a string.
    ControlCharacterInString,
    /// A number that does not follow the JSON number grammar (e.g. `01`, `1.`, `-`).
    InvalidNumber,
    /// A number with a fraction or exponent part in strict mode.
    FloatNotAllowed,
    /// An integer outside the range allowed by the mode (strict: ±(2^53−1); lenient: i64/u64).
    IntegerOutOfRange,
    /// A float that overflows to infinity (lenient mode).
    NonFiniteNumber,
}

/// Errors produced by `hearth_crypto`.
#[derive(Debug, Error)]
pub enum Error {
    /// The JSON parser rejected its input; `offset` is the byte offset where the problem was found.
    #[error("invalid JSON at byte {offset}: {kind:?}")]
    Parse {
        /// What was wrong.
        kind: ParseErrorKind,
        /// Byte offset into the input.
        offset: usize,
    },
    /// A value contains a float where canonical JSON (room v6+) allows only integers.
    #[error("canonical JSON does not allow floats")]
    FloatNotAllowed,
    /// A value contains an integer outside [-(2^53)+1, 2^53-1].
    #[error("integer {0} is outside the canonical JSON range [-(2^53)+1, 2^53-1]")]
    IntegerOutOfRange(String),
    /// NaN or ±infinity cannot be represented in JSON at all.
    #[error("NaN and infinity cannot be encoded as JSON")]
    NonFiniteFloat,
    /// A value nests deeper than [`crate::canonical_json::MAX_DEPTH`] and cannot be serialised.
    #[error("JSON value nests deeper than {0} levels")]
    TooDeep(usize),
    /// The value must be a JSON object (signing, hashing, event IDs work on objects only).
    #[error("expected a JSON object")]
    NotAnObject,
    /// A field that must have a particular shape (e.g. `signatures` must be an object of objects) does not.
    #[error("field `{0}` has the wrong type")]
    MalformedField(&'static str),
    /// Input is not valid base64 in the expected alphabet.
    #[error("invalid base64: {0}")]
    InvalidBase64(String),
    /// A key ID is not of the form `ed25519:<version>` with version matching `[a-zA-Z0-9_]+`.
    #[error("invalid key ID `{0}`")]
    InvalidKeyId(String),
    /// Key material has the wrong length (seeds and public keys are 32 bytes).
    #[error("invalid key length: expected {expected} bytes, got {actual}")]
    InvalidKeyLength {
        /// Required number of bytes.
        expected: usize,
        /// Number of bytes supplied.
        actual: usize,
    },
    /// A public key that is not a valid ed25519 point.
    #[error("invalid ed25519 public key")]
    InvalidPublicKey,
    /// A signing key file does not follow the `ed25519 <version> <base64 seed>` format.
    #[error("malformed signing key file: {0}")]
    MalformedKeyFile(String),
    /// Reading or writing a key file failed.
    #[error("key file I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The object carries no signature by this server with this key ID.
    #[error("no signature by `{server}` with key `{key_id}`")]
    SignatureMissing {
        /// Server whose signature was looked for.
        server: String,
        /// Key ID whose signature was looked for.
        key_id: String,
    },
    /// The signature string is not valid base64.
    #[error("signature is not valid base64")]
    SignatureBadBase64,
    /// The signature does not verify (wrong length, forged, or the signed content changed).
    #[error("signature does not verify")]
    SignatureInvalid,
    /// The event carries no `hashes.sha256` string.
    #[error("event has no `hashes.sha256`")]
    ContentHashMissing,
    /// The event's `hashes.sha256` is not 32 bytes of base64.
    #[error("event's `hashes.sha256` is malformed")]
    ContentHashMalformed,
    /// Room versions 1 and 2 have no hash-derived event IDs.
    #[error("this event ID format is not derived from the reference hash")]
    EventIdNotHashBased,
    /// Hashing a password failed (only on invalid parameters; should not happen).
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
}
