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

    /// The forms in which this keypair's secret could show up in text: the
    /// file's JSON array (compact and spaced), and base58 and hex of the
    /// seed and of the 64-byte keypair. For masking output, never for display.
    pub fn secret_forms(&self) -> Vec<String> {
        let mut pair = self.key.to_keypair_bytes();
        let numbers: Vec<String> = pair.iter().map(u8::to_string).collect();
        let forms = vec![
            format!("[{}]", numbers.join(",")),
            format!("[{}]", numbers.join(", ")),
            bs58::encode(&pair[..]).into_string(),
            bs58::encode(&pair[..SEED_LEN]).into_string(),
            hex::encode(&pair[..]),
            hex::encode(&pair[..SEED_LEN]),
        ];
        wipe(&mut pair);
        forms
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
mod tests;
