//! ed25519 server signing keys: identifiers, key pairs, public keys, and the on-disk key file.
//!
//! A server signs with one [`SigningKey`]; remote servers' keys arrive as base64 and become [`VerifyKey`]s.
//! The key file uses Synapse's format, one key per line, `ed25519 <version> <unpadded base64 seed>`, so a
//! key can be moved between Synapse and Hearth. [`encode_key_file`] and [`decode_key_file`] are pure; only
//! [`load_or_generate`] touches the filesystem (the one I/O exception in this crate).

use crate::Error;
use crate::random::{ALPHANUMERIC, random_bytes, random_string};
use ed25519_dalek::Signer as _;
use std::fmt;
use std::io::Write as _;
use std::path::Path;

/// The only key algorithm Matrix servers sign with.
pub const ED25519: &str = "ed25519";

/// A signing-key identifier `ed25519:<version>`, with `version` matching `[a-zA-Z0-9_]+` as the spec
/// requires for key IDs Hearth creates. Construct it with [`KeyId::ed25519`] or [`KeyId::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// The key ID `ed25519:<version>`; fails if `version` is empty or has characters outside `[a-zA-Z0-9_]`.
    pub fn ed25519(version: &str) -> Result<Self, Error> {
        if is_valid_version(version) {
            Ok(Self(format!("{ED25519}:{version}")))
        } else {
            Err(Error::InvalidKeyId(format!("{ED25519}:{version}")))
        }
    }

    /// Parse a full key ID such as `ed25519:a_AbCd`. Only the ed25519 algorithm is accepted.
    pub fn parse(key_id: &str) -> Result<Self, Error> {
        match key_id.split_once(':') {
            Some((ED25519, version)) if is_valid_version(version) => Ok(Self(key_id.to_owned())),
            _ => Err(Error::InvalidKeyId(key_id.to_owned())),
        }
    }

    /// The full ID, e.g. `ed25519:1`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The algorithm part (always `ed25519`).
    pub fn algorithm(&self) -> &str {
        ED25519
    }

    /// The version part after the colon.
    pub fn version(&self) -> &str {
        self.0.get(ED25519.len() + 1..).unwrap_or("")
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for KeyId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

fn is_valid_version(version: &str) -> bool {
    !version.is_empty()
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// This server's ed25519 key pair together with its key ID.
///
/// The secret never appears in `Debug` output. The underlying dalek key zeroes its memory on drop.
#[derive(Clone)]
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
    id: KeyId,
}

impl SigningKey {
    /// A fresh key from OS randomness, with a Synapse-style random version `a_XXXX`.
    ///
    /// # Panics
    /// If the operating system cannot provide randomness.
    pub fn generate() -> Self {
        let version = format!("a_{}", random_string(4, ALPHANUMERIC));
        let seed = random_bytes::<32>();
        Self {
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
            id: KeyId(format!("{ED25519}:{version}")),
        }
    }

    /// A fresh key from OS randomness with the given version.
    ///
    /// # Panics
    /// If the operating system cannot provide randomness.
    pub fn generate_with_version(version: &str) -> Result<Self, Error> {
        Self::from_seed(version, &random_bytes::<32>())
    }

    /// The key whose 32-byte ed25519 seed is `seed` (what Synapse stores), with key ID `ed25519:<version>`.
    pub fn from_seed(version: &str, seed: &[u8; 32]) -> Result<Self, Error> {
        Ok(Self {
            key: ed25519_dalek::SigningKey::from_bytes(seed),
            id: KeyId::ed25519(version)?,
        })
    }

    /// Like [`SigningKey::from_seed`] with the seed as (padded or unpadded) base64.
    pub fn from_seed_base64(version: &str, seed_base64: &str) -> Result<Self, Error> {
        let bytes = crate::base64::decode(seed_base64)?;
        let seed: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| Error::InvalidKeyLength {
                expected: 32,
                actual: bytes.len(),
            })?;
        Self::from_seed(version, &seed)
    }

    /// The key ID, e.g. `ed25519:a_AbCd`.
    pub fn key_id(&self) -> &KeyId {
        &self.id
    }

    /// The version part of the key ID.
    pub fn version(&self) -> &str {
        self.id.version()
    }

    /// The public key as unpadded base64, as published in `/_matrix/key/v2/server`.
    pub fn public_key_base64(&self) -> String {
        crate::base64::encode(self.key.verifying_key().as_bytes())
    }

    /// The public half, for verifying our own signatures.
    pub fn verify_key(&self) -> VerifyKey {
        VerifyKey(self.key.verifying_key())
    }

    /// The raw 64-byte ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    fn seed(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.id.as_str())
            .field("public_key", &self.public_key_base64())
            .finish_non_exhaustive()
    }
}

/// An ed25519 public key, typically a remote server's, used to check signatures.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VerifyKey(ed25519_dalek::VerifyingKey);

impl VerifyKey {
    /// Parse the (padded or unpadded) base64 public key from a server-keys response.
    pub fn from_base64(public_key: &str) -> Result<Self, Error> {
        Self::from_bytes(&crate::base64::decode(public_key)?)
    }

    /// Build from the 32 raw public-key bytes; fails if they are not a valid curve point.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let array: &[u8; 32] = bytes.try_into().map_err(|_| Error::InvalidKeyLength {
            expected: 32,
            actual: bytes.len(),
        })?;
        ed25519_dalek::VerifyingKey::from_bytes(array)
            .map(Self)
            .map_err(|_| Error::InvalidPublicKey)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// Unpadded standard base64 of the key.
    pub fn to_base64(&self) -> String {
        crate::base64::encode(self.0.as_bytes())
    }

    /// Check a raw ed25519 signature over `message`.
    ///
    /// Uses dalek's `verify_strict`, which (like libsodium under Synapse's PyNaCl) rejects non-canonical
    /// signatures and small-order keys, so Hearth accepts no signature that Synapse would reject.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        let signature =
            ed25519_dalek::Signature::from_slice(signature).map_err(|_| Error::SignatureInvalid)?;
        self.0
            .verify_strict(message, &signature)
            .map_err(|_| Error::SignatureInvalid)
    }
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VerifyKey").field(&self.to_base64()).finish()
    }
}

/// The key file line for `key` in Synapse's format: `ed25519 <version> <unpadded base64 seed>\n`.
pub fn encode_key_file(key: &SigningKey) -> String {
    format!(
        "{ED25519} {} {}\n",
        key.version(),
        crate::base64::encode(key.seed())
    )
}

/// Read a Synapse-format key file and return its first key (the one Synapse signs with).
///
/// Blank lines are skipped; every other line must be a valid `ed25519 <version> <base64 seed>` entry, so a
/// corrupted file is reported rather than half-read.
pub fn decode_key_file(contents: &str) -> Result<SigningKey, Error> {
    let mut first = None;
    for (number, line) in contents.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let key = match fields.as_slice() {
            [] => continue,
            [ED25519, version, seed] => SigningKey::from_seed_base64(version, seed)
                .map_err(|e| Error::MalformedKeyFile(format!("line {}: {e}", number + 1)))?,
            _ => {
                return Err(Error::MalformedKeyFile(format!(
                    "line {}: expected `ed25519 <version> <base64 seed>`",
                    number + 1
                )));
            }
        };
        first.get_or_insert(key);
    }
    first.ok_or_else(|| Error::MalformedKeyFile("no key in file".to_owned()))
}

/// Load the signing key at `path`, or create one there if the file does not exist.
///
/// A new file is written atomically (a temporary file in the same directory, flushed to disk, then
/// renamed), with mode 0600 on unix, so a crash never leaves a truncated key behind. Two processes creating
/// the same key file at the same moment are not supported: the data directory belongs to one server.
pub fn load_or_generate(path: &Path) -> Result<SigningKey, Error> {
    match std::fs::read_to_string(path) {
        Ok(contents) => decode_key_file(&contents),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate();
            write_atomically(path, encode_key_file(&key).as_bytes())?;
            Ok(key)
        }
        Err(e) => Err(e.into()),
    }
}

fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), Error> {
    let file_name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "key path has no file name",
        )
    })?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut temp_name = file_name.to_os_string();
    temp_name.push(format!(".tmp-{}", random_string(8, ALPHANUMERIC)));
    let temp_path = dir.join(temp_name);

    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let written = options.open(&temp_path).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&temp_path, path));
    if let Err(e) = renamed {
        let _ = std::fs::remove_file(&temp_path);
        return Err(e.into());
    }
    #[cfg(unix)]
    {
        // Persist the rename itself; failure here does not invalidate the key we just wrote.
        if let Ok(dir_handle) = std::fs::File::open(dir) {
            let _ = dir_handle.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_SEED: &str = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1";
    const SPEC_PUBLIC_KEY: &str = "XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI";

    fn spec_key() -> SigningKey {
        match SigningKey::from_seed_base64("1", SPEC_SEED) {
            Ok(k) => k,
            Err(e) => panic!("spec seed must load: {e}"),
        }
    }

    #[test]
    fn spec_seed_yields_the_known_public_key_and_key_id() {
        let key = spec_key();
        assert_eq!(key.public_key_base64(), SPEC_PUBLIC_KEY);
        assert_eq!(key.key_id().as_str(), "ed25519:1");
        assert_eq!(key.version(), "1");
        assert_eq!(key.verify_key().to_base64(), SPEC_PUBLIC_KEY);
    }

    #[test]
    fn key_ids_require_ed25519_and_a_safe_version() {
        assert!(KeyId::ed25519("a_Bc9").is_ok());
        assert!(KeyId::ed25519("").is_err());
        assert!(KeyId::ed25519("a:b").is_err());
        assert!(KeyId::ed25519("a b").is_err());
        assert!(KeyId::ed25519("é").is_err());
        assert_eq!(
            KeyId::parse("ed25519:x_1")
                .ok()
                .map(|k| k.version().to_owned())
                .as_deref(),
            Some("x_1")
        );
        assert!(KeyId::parse("curve25519:x").is_err());
        assert!(KeyId::parse("ed25519").is_err());
        assert!(KeyId::parse("ed25519:").is_err());
    }

    #[test]
    fn generated_keys_are_distinct_and_have_synapse_style_versions() {
        let a = SigningKey::generate();
        let b = SigningKey::generate();
        assert_ne!(a.public_key_base64(), b.public_key_base64());
        assert!(a.version().starts_with("a_") && a.version().len() == 6);
        assert!(KeyId::parse(a.key_id().as_str()).is_ok());
    }

    #[test]
    fn key_file_round_trips_in_synapse_format() {
        let key = spec_key();
        let file = encode_key_file(&key);
        // The spec writes the seed with non-zero trailing bits; the canonical encoding ends in `0`.
        assert_eq!(
            file,
            "ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0\n"
        );
        let loaded = decode_key_file(&file);
        assert_eq!(
            loaded
                .ok()
                .map(|k| (k.key_id().clone(), k.public_key_base64())),
            Some((key.key_id().clone(), SPEC_PUBLIC_KEY.to_owned()))
        );
    }

    #[test]
    fn key_file_accepts_padding_blank_lines_and_returns_the_first_key() {
        let other = SigningKey::generate();
        let file = format!("\n{}ed25519 1 {SPEC_SEED}=\n", encode_key_file(&other));
        let loaded = decode_key_file(&file);
        assert_eq!(
            loaded.ok().map(|k| k.public_key_base64()),
            Some(other.public_key_base64())
        );
    }

    #[test]
    fn key_file_rejects_malformed_contents() {
        for bad in [
            "",
            "\n\n",
            "ed25519 1\n",
            "ed25519 1 AAAA\n",
            "rsa 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1\n",
            "ed25519 bad:version YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1\n",
            "ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1 extra\n",
            "ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1\ngarbage\n",
        ] {
            assert!(
                matches!(decode_key_file(bad), Err(Error::MalformedKeyFile(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn load_or_generate_creates_a_private_file_then_reloads_the_same_key() {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("tempdir: {e}"),
        };
        let path = dir.path().join("signing.key");
        let created = load_or_generate(&path);
        assert!(created.is_ok());
        let reloaded = load_or_generate(&path);
        assert_eq!(
            created
                .ok()
                .map(|k| (k.key_id().clone(), k.public_key_base64())),
            reloaded
                .ok()
                .map(|k| (k.key_id().clone(), k.public_key_base64()))
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path)
                .map(|m| m.permissions().mode() & 0o777)
                .ok();
            assert_eq!(mode, Some(0o600));
        }
        let leftovers = std::fs::read_dir(dir.path()).map(|d| d.count()).ok();
        assert_eq!(leftovers, Some(1), "temporary file must be renamed away");
    }

    #[test]
    fn load_or_generate_reports_a_corrupt_file_instead_of_replacing_it() {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("tempdir: {e}"),
        };
        let path = dir.path().join("signing.key");
        assert!(std::fs::write(&path, "not a key\n").is_ok());
        assert!(matches!(
            load_or_generate(&path),
            Err(Error::MalformedKeyFile(_))
        ));
        assert_eq!(
            std::fs::read_to_string(&path).ok().as_deref(),
            Some("not a key\n")
        );
    }

    #[test]
    fn verify_key_rejects_wrong_lengths_and_bad_base64() {
        assert!(matches!(
            VerifyKey::from_base64("AAAA"),
            Err(Error::InvalidKeyLength { .. })
        ));
        assert!(matches!(
            VerifyKey::from_base64("!!"),
            Err(Error::InvalidBase64(_))
        ));
        assert!(VerifyKey::from_base64(SPEC_PUBLIC_KEY).is_ok());
    }

    #[test]
    fn raw_signatures_verify_only_for_the_signed_message() {
        let key = spec_key();
        let signature = key.sign(b"message");
        let verify = key.verify_key();
        assert!(verify.verify(b"message", &signature).is_ok());
        assert!(matches!(
            verify.verify(b"messagf", &signature),
            Err(Error::SignatureInvalid)
        ));
        assert!(matches!(
            verify.verify(b"message", &signature[..63]),
            Err(Error::SignatureInvalid)
        ));
    }

    #[test]
    fn debug_output_does_not_leak_the_seed() {
        let key = spec_key();
        let debug = format!("{key:?}");
        assert!(!debug.contains(SPEC_SEED));
        assert!(debug.contains(SPEC_PUBLIC_KEY));
    }
}
