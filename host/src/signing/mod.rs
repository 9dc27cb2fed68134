//! Keypairs, Koii payload signing, and canonical JSON.
//!
//! Keys are Solana-style keypair files (what `solana-keygen` and Koii tasks
//! use). Signed payloads follow Koii's `namespaceWrapper.payloadSigning`:
//! `base58(nacl.sign(message, secretKey))`, i.e. the 64-byte detached
//! signature followed by the message. [`canonical`] produces the message
//! bytes a Python or JS task would have signed for a given JSON document.

pub mod canonical;
pub use canonical::{canonicalize, CanonicalError, JsonStyle};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

const SEED_LEN: usize = 32;
const KEYPAIR_LEN: usize = 64;
const SIGNATURE_LEN: usize = 64;

/// An ed25519 keypair loaded from a Solana-style keypair file.
pub struct Keypair {
    key: SigningKey,
}

impl Keypair {
    /// Load a Solana-style keypair file: a JSON array of 64 integers 0..=255
    /// (32-byte seed ‖ 32-byte public key).
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        parse_solana_json(&text, Some(path))
    }

    /// Parse the same format from text already read (used by [`Keypair::from_file`]).
    pub fn from_solana_json(text: &str) -> Result<Self, KeyError> {
        parse_solana_json(text, None)
    }

    /// A fresh random keypair, seeded from the operating system (getrandom).
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; SEED_LEN];
        getrandom::fill(&mut seed).map_err(KeyError::Random)?;
        let key = SigningKey::from_bytes(&seed);
        wipe(&mut seed);
        Ok(Keypair { key })
    }

    /// The Solana JSON array text of this keypair (64 numbers, `[1,2,...]`,
    /// as `solana-keygen` writes). It contains the secret seed.
    pub fn to_solana_json(&self) -> String {
        let mut bytes = self.key.to_keypair_bytes();
        let numbers: Vec<String> = bytes.iter().map(u8::to_string).collect();
        wipe(&mut bytes);
        format!("[{}]", numbers.join(","))
    }

    /// The base58 public key (a Solana/Koii address).
    pub fn public_key_base58(&self) -> String {
        bs58::encode(self.key.verifying_key().as_bytes()).into_string()
    }

    /// Koii's `namespaceWrapper.payloadSigning` format:
    /// base58(signature(64) ‖ message). `nacl.sign.open` accepts it.
    pub fn sign_koii(&self, message: &[u8]) -> String {
        let mut signed = Vec::with_capacity(SIGNATURE_LEN + message.len());
        signed.extend_from_slice(&self.sign_detached(message));
        signed.extend_from_slice(message);
        bs58::encode(signed).into_string()
    }

    /// A raw 64-byte detached ed25519 signature.
    pub fn sign_detached(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Canonicalise JSON text in `style` (see [`canonicalize`]), then
    /// [`Keypair::sign_koii`] the resulting bytes.
    pub fn sign_json(&self, json_text: &str, style: JsonStyle) -> Result<String, CanonicalError> {
        let message = canonicalize(json_text, style)?;
        Ok(self.sign_koii(message.as_bytes()))
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Public half only: Debug output ends up in logs and test reports.
        f.debug_struct("Keypair")
            .field("public_key", &self.public_key_base58())
            .finish_non_exhaustive()
    }
}

/// Write a new keypair file (mode 0600 on unix; refuses to overwrite an
/// existing file unless `force`), creating missing parent directories, and
/// return the keypair.
pub fn write_new_keypair(path: &Path, force: bool) -> Result<Keypair, KeyError> {
    let keypair = Keypair::generate()?;
    let write_err = |source| KeyError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(write_err)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        // create_new checks and creates atomically: no race with another writer.
        options.create_new(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            write_err(source)
        }
    })?;
    // `mode` only applies to a file we create; a forced overwrite must not
    // keep a looser old mode, and must be tightened before the secret lands.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(write_err)?;
    }
    file.write_all(keypair.to_solana_json().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(write_err)?;
    Ok(keypair)
}

/// Open a Koii signed payload: decode base58, split signature ‖ message,
/// verify with the base58 public key, and return the message bytes.
///
/// Verification is ed25519 `verify_strict`: it accepts every signature an
/// honest nacl/dalek signer makes, and also rejects the malleable and
/// small-order-key forgeries that plain nacl would let through.
pub fn open_koii(signed_base58: &str, public_key_base58: &str) -> Result<Vec<u8>, VerifyError> {
    let public_key_bytes =
        bs58::decode(public_key_base58)
            .into_vec()
            .map_err(|e| VerifyError::Base58 {
                what: "public key",
                detail: e.to_string(),
            })?;
    let public_key_array: [u8; 32] =
        public_key_bytes
            .as_slice()
            .try_into()
            .map_err(|_| VerifyError::PublicKeyLength {
                len: public_key_bytes.len(),
            })?;
    let public_key =
        VerifyingKey::from_bytes(&public_key_array).map_err(|_| VerifyError::InvalidPublicKey {
            public_key: public_key_base58.to_owned(),
        })?;
    let signed = bs58::decode(signed_base58)
        .into_vec()
        .map_err(|e| VerifyError::Base58 {
            what: "signed payload",
            detail: e.to_string(),
        })?;
    if signed.len() < SIGNATURE_LEN {
        return Err(VerifyError::TooShort { len: signed.len() });
    }
    let (signature, message) = signed.split_at(SIGNATURE_LEN);
    let mut signature_bytes = [0u8; SIGNATURE_LEN];
    signature_bytes.copy_from_slice(signature);
    public_key
        .verify_strict(message, &Signature::from_bytes(&signature_bytes))
        .map_err(|_| VerifyError::BadSignature {
            public_key: public_key_base58.to_owned(),
        })?;
    Ok(message.to_vec())
}

/// Why a keypair could not be loaded, generated or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The keypair file could not be read.
    #[error("cannot read keypair file {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The text is not JSON.
    #[error("{} is not valid JSON (line {line}, column {column}): {detail}", origin(.path))]
    NotJson {
        /// The file, if the text came from one.
        path: Option<PathBuf>,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the JSON parser objected to.
        detail: String,
    },
    /// The JSON is not an array.
    #[error(
        "{} must be a JSON array of 64 integers 0..=255 (32-byte seed then 32-byte public key), \
         but it is {found}",
        origin(.path)
    )]
    NotArray {
        /// The file, if the text came from one.
        path: Option<PathBuf>,
        /// What kind of JSON value it is instead, e.g. "an object".
        found: &'static str,
    },
    /// The array does not have 64 elements.
    #[error(
        "{} has {len} elements; a keypair is 64 (32-byte seed then 32-byte public key)",
        origin(.path)
    )]
    WrongLength {
        /// The file, if the text came from one.
        path: Option<PathBuf>,
        /// How many elements it has.
        len: usize,
    },
    /// An element is not an integer 0..=255.
    #[error("{}: element {index} is {value}, not an integer 0..=255", origin(.path))]
    BadByte {
        /// The file, if the text came from one.
        path: Option<PathBuf>,
        /// 0-based position of the element.
        index: usize,
        /// The element as JSON (shortened if long).
        value: String,
    },
    /// Bytes 32..64 are not the public key of the seed in bytes 0..32.
    #[error(
        "{}: the public key half (bytes 32..64) is {found}, but the seed (bytes 0..32) \
         belongs to {expected}; the file is corrupt or stitched together",
        origin(.path)
    )]
    PublicKeyMismatch {
        /// The file, if the text came from one.
        path: Option<PathBuf>,
        /// base58 public key derived from the seed.
        expected: String,
        /// base58 of the stored public half.
        found: String,
    },
    /// `write_new_keypair` found a file already there and `force` was not set.
    #[error("refusing to overwrite existing keypair file {} (force to replace it)", .path.display())]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// The keypair file (or its directory) could not be written.
    #[error("cannot write keypair file {}: {source}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The operating system's random number generator failed.
    #[error("cannot get random bytes for a new keypair: {0}")]
    Random(getrandom::Error),
}

/// Why a Koii signed payload did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The signed payload or the public key is not base58.
    #[error("{what} is not valid base58: {detail}")]
    Base58 {
        /// "signed payload" or "public key".
        what: &'static str,
        /// What the decoder objected to.
        detail: String,
    },
    /// The public key does not decode to 32 bytes.
    #[error("public key decodes to {len} bytes; an ed25519 public key is 32")]
    PublicKeyLength {
        /// How many bytes it decodes to.
        len: usize,
    },
    /// The public key's 32 bytes are not a point on the curve.
    #[error("public key {public_key} is not a valid ed25519 public key")]
    InvalidPublicKey {
        /// The public key as given.
        public_key: String,
    },
    /// Too short to hold the 64-byte signature it must start with.
    #[error(
        "signed payload is {len} bytes, shorter than the 64-byte signature it must start with"
    )]
    TooShort {
        /// Decoded length in bytes.
        len: usize,
    },
    /// The signature does not match the message and public key.
    #[error(
        "signature does not verify with public key {public_key} \
         (wrong key, or the message or signature was altered)"
    )]
    BadSignature {
        /// The public key as given.
        public_key: String,
    },
}

/// "keypair file PATH" or "keypair JSON", for error messages.
fn origin(path: &Option<PathBuf>) -> String {
    match path {
        Some(path) => format!("keypair file {}", path.display()),
        None => "keypair JSON".to_owned(),
    }
}

/// Best-effort wipe of secret bytes we held outside `SigningKey` (which
/// zeroizes itself); `black_box` keeps the stores from being optimised away.
fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    std::hint::black_box(bytes);
}

fn parse_solana_json(text: &str, path: Option<&Path>) -> Result<Keypair, KeyError> {
    let path_buf = || path.map(Path::to_path_buf);
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        // serde_json appends " at line L column C"; we report those separately.
        let full = e.to_string();
        let detail = match full.rfind(" at line ") {
            Some(i) => full[..i].to_owned(),
            None => full,
        };
        KeyError::NotJson {
            path: path_buf(),
            line: e.line(),
            column: e.column(),
            detail,
        }
    })?;
    let items = match &value {
        serde_json::Value::Array(items) => items,
        other => {
            return Err(KeyError::NotArray {
                path: path_buf(),
                found: json_kind(other),
            })
        }
    };
    if items.len() != KEYPAIR_LEN {
        return Err(KeyError::WrongLength {
            path: path_buf(),
            len: items.len(),
        });
    }
    let mut bytes = [0u8; KEYPAIR_LEN];
    for (index, item) in items.iter().enumerate() {
        match item.as_u64().and_then(|n| u8::try_from(n).ok()) {
            Some(b) => bytes[index] = b,
            None => {
                wipe(&mut bytes);
                return Err(KeyError::BadByte {
                    path: path_buf(),
                    index,
                    value: shorten(&item.to_string()),
                });
            }
        }
    }
    let mut seed = [0u8; SEED_LEN];
    seed.copy_from_slice(&bytes[..SEED_LEN]);
    let key = SigningKey::from_bytes(&seed);
    wipe(&mut seed);
    let stored_public = bs58::encode(&bytes[SEED_LEN..]).into_string();
    wipe(&mut bytes);
    let keypair = Keypair { key };
    let expected = keypair.public_key_base58();
    if expected != stored_public {
        return Err(KeyError::PublicKeyMismatch {
            path: path_buf(),
            expected,
            found: stored_public,
        });
    }
    Ok(keypair)
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn shorten(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    if text.chars().count() <= MAX_CHARS {
        text.to_owned()
    } else {
        let head: String = text.chars().take(MAX_CHARS).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::canonical::tests::run_tool;
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    fn to_hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn solana_json(bytes: &[u8]) -> String {
        let numbers: Vec<String> = bytes.iter().map(u8::to_string).collect();
        format!("[{}]", numbers.join(","))
    }

    /// RFC 8032 section 7.1, tests 1 and 2: (seed, public key, message, signature).
    const RFC8032: [(&str, &str, &str, &str); 2] = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
    ];

    #[test]
    fn rfc8032_vectors_via_solana_json() {
        for (seed, public, message, signature) in RFC8032 {
            let bytes = [hex(seed), hex(public)].concat();
            let text = solana_json(&bytes);
            let keypair = Keypair::from_solana_json(&text).unwrap();
            assert_eq!(keypair.to_solana_json(), text);
            assert_eq!(
                keypair.public_key_base58(),
                bs58::encode(hex(public)).into_string()
            );
            let message = hex(message);
            assert_eq!(to_hex(&keypair.sign_detached(&message)), signature);
            let signed = bs58::decode(keypair.sign_koii(&message))
                .into_vec()
                .unwrap();
            assert_eq!(signed, [hex(signature), message].concat());
        }
    }

    #[test]
    fn load_errors_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let load = |path: &Path| Keypair::from_file(path).unwrap_err();

        let missing = dir.path().join("missing.json");
        let err = load(&missing);
        assert!(matches!(err, KeyError::Read { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&missing.display().to_string()),
            "{err}"
        );

        let path = write("garbage.json", "[1, 2,\n  3 x]");
        let err = load(&path);
        assert!(
            matches!(
                err,
                KeyError::NotJson {
                    line: 2,
                    column: 5,
                    ..
                }
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("line 2, column 5"), "{message}");

        let err = load(&write("object.json", "{\"secretKey\": [1, 2]}"));
        assert!(err.to_string().contains("but it is an object"), "{err}");

        let err = load(&write("short.json", &solana_json(&[7; 63])));
        assert!(
            matches!(err, KeyError::WrongLength { len: 63, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("has 63 elements"), "{err}");

        let good = Keypair::generate().unwrap().to_solana_json();
        for (bad, shown) in [
            ("256", "256"),
            ("-1", "-1"),
            ("1.5", "1.5"),
            ("\"7\"", "\"7\""),
            ("null", "null"),
        ] {
            let mut items: Vec<&str> = good[1..good.len() - 1].split(',').collect();
            items[5] = bad;
            let err = Keypair::from_solana_json(&format!("[{}]", items.join(","))).unwrap_err();
            assert!(
                matches!(&err, KeyError::BadByte { index: 5, value, path: None } if value == shown),
                "{err:?}"
            );
            assert!(
                err.to_string().contains(&format!("element 5 is {shown}")),
                "{err}"
            );
        }

        // Seed of one key with the public half of another.
        let a = Keypair::generate().unwrap().to_solana_json();
        let b = Keypair::generate().unwrap().to_solana_json();
        let a_items: Vec<&str> = a[1..a.len() - 1].split(',').collect();
        let b_items: Vec<&str> = b[1..b.len() - 1].split(',').collect();
        let stitched = format!("[{},{}]", a_items[..32].join(","), b_items[32..].join(","));
        let path = write("stitched.json", &stitched);
        let err = load(&path);
        assert!(matches!(err, KeyError::PublicKeyMismatch { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        let b_public = Keypair::from_solana_json(&b).unwrap().public_key_base58();
        assert!(err.to_string().contains(&b_public), "{err}");
    }

    #[test]
    fn debug_shows_only_the_public_key() {
        let keypair = Keypair::generate().unwrap();
        let expected = format!(
            "Keypair {{ public_key: {:?}, .. }}",
            keypair.public_key_base58()
        );
        assert_eq!(format!("{keypair:?}"), expected);
        let pretty = format!("{keypair:#?}");
        let seed = keypair.key.as_bytes();
        for secret in [
            to_hex(seed),
            bs58::encode(seed).into_string(),
            solana_json(seed),
        ] {
            assert!(!pretty.contains(&secret[..secret.len() - 1]), "{pretty}");
        }
    }

    #[test]
    fn sign_and_open_round_trip() {
        let keypair = Keypair::generate().unwrap();
        let public = keypair.public_key_base58();
        for message in [
            &b""[..],
            b"x",
            "{\"price\": 1.5, \"who\": \"\u{e9}\"}".as_bytes(),
            &[0u8; 1000],
        ] {
            let signed = keypair.sign_koii(message);
            assert_eq!(open_koii(&signed, &public).unwrap(), message);
            let raw = bs58::decode(&signed).into_vec().unwrap();
            assert_eq!(raw[..64], keypair.sign_detached(message));
        }
    }

    #[test]
    fn tampering_and_bad_inputs_are_rejected() {
        let keypair = Keypair::generate().unwrap();
        let public = keypair.public_key_base58();
        let signed = bs58::decode(keypair.sign_koii(b"submission round 7"))
            .into_vec()
            .unwrap();
        for flip in [0, 31, 63, 64, signed.len() - 1] {
            let mut tampered = signed.clone();
            tampered[flip] ^= 0x01;
            let err = open_koii(&bs58::encode(&tampered).into_string(), &public).unwrap_err();
            assert!(
                matches!(err, VerifyError::BadSignature { .. }),
                "byte {flip}: {err:?}"
            );
        }
        let truncated = bs58::encode(&signed[..signed.len() - 1]).into_string();
        assert!(matches!(
            open_koii(&truncated, &public),
            Err(VerifyError::BadSignature { .. })
        ));

        let other = Keypair::generate().unwrap().public_key_base58();
        let good = bs58::encode(&signed).into_string();
        let err = open_koii(&good, &other).unwrap_err();
        assert!(err.to_string().contains(&other), "{err}");

        let err = open_koii("0OIl", &public).unwrap_err();
        assert!(
            matches!(
                err,
                VerifyError::Base58 {
                    what: "signed payload",
                    ..
                }
            ),
            "{err:?}"
        );
        let err = open_koii(&good, "not base58!").unwrap_err();
        assert!(
            matches!(
                err,
                VerifyError::Base58 {
                    what: "public key",
                    ..
                }
            ),
            "{err:?}"
        );
        let short = bs58::encode([1u8; 10]).into_string();
        assert_eq!(
            open_koii(&short, &public),
            Err(VerifyError::TooShort { len: 10 })
        );
        let short_key = bs58::encode([1u8; 31]).into_string();
        assert_eq!(
            open_koii(&good, &short_key),
            Err(VerifyError::PublicKeyLength { len: 31 })
        );
        // Some y coordinates have no curve point; find one to use as a key.
        let off_curve = (0..=255u8)
            .map(|y| {
                let mut bytes = [0u8; 32];
                bytes[0] = y;
                bytes
            })
            .find(|bytes| VerifyingKey::from_bytes(bytes).is_err())
            .unwrap();
        let off_curve = bs58::encode(off_curve).into_string();
        assert!(matches!(
            open_koii(&good, &off_curve),
            Err(VerifyError::InvalidPublicKey { .. })
        ));
    }

    #[test]
    fn sign_json_rejects_invalid_json() {
        let keypair = Keypair::generate().unwrap();
        let err = keypair
            .sign_json("{\"a\": }", JsonStyle::Python)
            .unwrap_err();
        assert!(err.to_string().contains("line 1, column 7"), "{err}");
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn write_new_keypair_creates_0600_and_refuses_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("worker-1.json");
        let first = write_new_keypair(&path, false).unwrap();
        assert_eq!(
            Keypair::from_file(&path).unwrap().public_key_base58(),
            first.public_key_base58()
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            first.to_solana_json()
        );
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);

        let err = write_new_keypair(&path, false).unwrap_err();
        assert!(matches!(err, KeyError::Exists { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert_eq!(
            Keypair::from_file(&path).unwrap().public_key_base58(),
            first.public_key_base58()
        );

        // A forced overwrite also tightens a file that was readable by others.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let second = write_new_keypair(&path, true).unwrap();
        assert_ne!(second.public_key_base58(), first.public_key_base58());
        assert_eq!(
            Keypair::from_file(&path).unwrap().public_key_base58(),
            second.public_key_base58()
        );
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
    }

    /// An independent implementation opens our payload the way Koii's
    /// `nacl.sign.open(bs58.decode(signed), publicKey)` does: node decodes the
    /// base58 itself, splits signature ‖ message and verifies with its own
    /// ed25519 (OpenSSL).
    #[test]
    fn node_opens_koii_payloads() {
        const SCRIPT: &str = r#"
const crypto = require("crypto");
const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
function b58decode(s) {
  let n = 0n;
  for (const c of s) {
    const i = ALPHABET.indexOf(c);
    if (i < 0) throw new Error("bad base58 character " + c);
    n = n * 58n + BigInt(i);
  }
  let hex = n === 0n ? "" : n.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  let zeros = 0;
  while (zeros < s.length && s[zeros] === "1") zeros++;
  return Buffer.concat([Buffer.alloc(zeros), Buffer.from(hex, "hex")]);
}
const [signedB58, publicB58] = require("fs").readFileSync(0, "utf8").trim().split(" ");
const signed = b58decode(signedB58);
const x = b58decode(publicB58).toString("base64url");
const key = crypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
const message = signed.subarray(64);
const ok = crypto.verify(null, message, key, signed.subarray(0, 64));
process.stdout.write(JSON.stringify({ ok, message: message.toString("hex") }));
"#;
        let keypair = Keypair::generate().unwrap();
        for message in ["", "{\"a\":1}", "ünïcödé 😀 payload"] {
            let signed = keypair.sign_koii(message.as_bytes());
            let input = format!("{signed} {}", keypair.public_key_base58());
            let out = run_tool("node", &["-e", SCRIPT], input.as_bytes());
            let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(
                out["ok"], true,
                "node rejected the signature for {message:?}"
            );
            assert_eq!(out["message"], to_hex(message.as_bytes()));
        }
    }

    /// The bytes a Python task signs are what `json.dumps(..., sort_keys=True)`
    /// prints; a payload we sign in Python style must open to exactly those.
    #[test]
    fn sign_json_matches_reference_bytes() {
        let doc = "{\"round\": 7, \"submission\": {\"z\": [1.0, 1e16, 0.1, -0], \"cid\": \"bafy…\", \
                   \"emoji\": \"😀\", \"10\": null, \"2\": true}, \"big\": 123456789012345678901234567890, \
                   \"tab\": \"a\\tb\", \"round\": 8}";
        let keypair = Keypair::generate().unwrap();
        let public = keypair.public_key_base58();
        let cases = [
            (
                JsonStyle::Python,
                "python3",
                vec!["-c", "import json,sys; sys.stdout.write(json.dumps(json.loads(sys.stdin.buffer.read().decode('utf-8')), sort_keys=True))"],
            ),
            (
                JsonStyle::Js,
                "node",
                vec!["-e", "process.stdout.write(JSON.stringify(JSON.parse(require('fs').readFileSync(0, 'utf8'))))"],
            ),
        ];
        for (style, program, args) in cases {
            let expected = run_tool(program, &args, doc.as_bytes());
            let signed = keypair.sign_json(doc, style).unwrap();
            let opened = open_koii(&signed, &public).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&opened),
                String::from_utf8_lossy(&expected),
                "{style:?} bytes differ from {program}"
            );
        }
    }
}
