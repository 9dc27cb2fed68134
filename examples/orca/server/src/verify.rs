//! Koii payload signatures, checked the way Koii's own task nodes check them.
//!
//! Koii's `namespaceWrapper.payloadSigning(payload)` produces
//! `base58(nacl.sign(JSON.stringify(payload), secretKey))`, and `nacl.sign`
//! output is the 64-byte ed25519 signature followed by the message itself.
//! The verifier (`namespaceWrapper.verifySignature`) base58-decodes, runs
//! `nacl.sign.open` with the claimed public key and JSON-parses what comes out.
//! We mirror exactly that so payloads signed by real Koii tooling (or by the
//! promwasm steps imitating it) are accepted here, and nothing else is.
//!
//! Every failure carries a specific reason because these servers exist to be
//! tested: a 401 that says *why* saves a lot of guessing in an end-to-end run.

use std::fmt;

use ed25519_dalek::{Signature, VerifyingKey, SIGNATURE_LENGTH};
use serde_json::Value;

/// Why a signed payload was refused. `Display` is the text sent to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The signed blob is not valid base58.
    BadBase58(String),
    /// The claimed public key is not base58 of a valid 32-byte ed25519 key.
    BadPublicKey { key: String, reason: String },
    /// Fewer bytes than an ed25519 signature: `nacl.sign.open` would return null.
    TooShort(usize),
    /// The signature does not verify for this key (tampered or wrong signer).
    BadSignature { key: String },
    /// The signature is fine but the signed message is not JSON.
    NotJson(String),
    /// A payload field is missing or differs from what the request claims.
    FieldMismatch {
        field: String,
        expected: String,
        found: String,
    },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::BadBase58(e) => write!(f, "bad base58 in signature: {e}"),
            VerifyError::BadPublicKey { key, reason } => {
                write!(f, "bad public key {key}: {reason}")
            }
            VerifyError::TooShort(n) => write!(
                f,
                "signature too short: {n} bytes, need at least {SIGNATURE_LENGTH}"
            ),
            VerifyError::BadSignature { key } => {
                write!(f, "signature does not verify for {key}")
            }
            VerifyError::NotJson(e) => write!(f, "payload is not JSON: {e}"),
            VerifyError::FieldMismatch {
                field,
                expected,
                found,
            } => write!(
                f,
                "payload field {field} mismatch: expected {expected}, found {found}"
            ),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Decodes a base58 ed25519 public key (Koii/Solana account address).
pub fn parse_public_key(key_b58: &str) -> Result<VerifyingKey, VerifyError> {
    let bad = |reason: String| VerifyError::BadPublicKey {
        key: key_b58.to_string(),
        reason,
    };
    let bytes = bs58::decode(key_b58)
        .into_vec()
        .map_err(|e| bad(format!("bad base58: {e}")))?;
    let bytes: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| bad(format!("{} bytes, expected 32", bytes.len())))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| bad(e.to_string()))
}

/// `nacl.sign.open`: returns the signed message bytes if `signed_b58` is a
/// valid signature by `public_key_b58`.
///
/// Uses `verify_strict`, which additionally rejects weak keys and
/// non-canonical signatures; honest signers never produce those, so this only
/// closes malleability holes.
pub fn open(signed_b58: &str, public_key_b58: &str) -> Result<Vec<u8>, VerifyError> {
    let raw = bs58::decode(signed_b58)
        .into_vec()
        .map_err(|e| VerifyError::BadBase58(e.to_string()))?;
    if raw.len() < SIGNATURE_LENGTH {
        return Err(VerifyError::TooShort(raw.len()));
    }
    let key = parse_public_key(public_key_b58)?;
    let (sig_bytes, message) = raw.split_at(SIGNATURE_LENGTH);
    let sig_bytes: &[u8; SIGNATURE_LENGTH] = sig_bytes
        .try_into()
        .expect("split_at gives exactly SIGNATURE_LENGTH bytes");
    let signature = Signature::from_bytes(sig_bytes);
    key.verify_strict(message, &signature)
        .map_err(|_| VerifyError::BadSignature {
            key: public_key_b58.to_string(),
        })?;
    Ok(message.to_vec())
}

/// Koii's `verifySignature` followed by `JSON.parse`: the signed payload as JSON.
pub fn verify_payload(signed_b58: &str, public_key_b58: &str) -> Result<Value, VerifyError> {
    let message = open(signed_b58, public_key_b58)?;
    serde_json::from_slice(&message).map_err(|e| VerifyError::NotJson(e.to_string()))
}

/// Requires `payload[field] == expected`.
///
/// The signature only proves *someone* signed *something*; binding the signed
/// fields to the request (same staking key, right action, right task) is what
/// stops a signature made for one purpose being replayed for another.
pub fn expect_field(payload: &Value, field: &str, expected: &Value) -> Result<(), VerifyError> {
    match payload.get(field) {
        Some(found) if found == expected => Ok(()),
        found => Err(VerifyError::FieldMismatch {
            field: field.to_string(),
            expected: expected.to_string(),
            found: found.map_or_else(|| "nothing".to_string(), Value::to_string),
        }),
    }
}

/// Signs `payload` the way Koii's `payloadSigning` does. The server itself
/// never signs; this exists so tests (and anyone debugging) can make payloads
/// that are byte-for-byte what a Koii node would send.
#[cfg(test)]
pub fn sign_payload(key: &ed25519_dalek::SigningKey, payload: &Value) -> String {
    use ed25519_dalek::Signer;
    let message = serde_json::to_vec(payload).expect("a Value always serialises");
    let signature = key.sign(&message);
    let mut blob = signature.to_bytes().to_vec();
    blob.extend_from_slice(&message);
    bs58::encode(blob).into_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    /// A deterministic keypair and its base58 public key (shared with the route tests).
    pub(crate) fn key(seed: u8) -> (SigningKey, String) {
        let sk = SigningKey::from_bytes(&[seed; 32]);
        let pk = bs58::encode(sk.verifying_key().as_bytes()).into_string();
        (sk, pk)
    }

    fn payload(staking_key: &str) -> Value {
        json!({"taskId": "t1", "roundNumber": 3, "action": "task", "stakingKey": staking_key})
    }

    #[test]
    fn accepts_correctly_signed_payload() {
        let (sk, pk) = key(1);
        let p = payload(&pk);
        let signed = sign_payload(&sk, &p);
        assert_eq!(verify_payload(&signed, &pk).unwrap(), p);
        expect_field(&p, "stakingKey", &json!(pk)).unwrap();
        expect_field(&p, "action", &json!("task")).unwrap();
    }

    #[test]
    fn rejects_tampered_message_byte() {
        let (sk, pk) = key(1);
        let signed = sign_payload(&sk, &payload(&pk));
        let mut raw = bs58::decode(&signed).into_vec().unwrap();
        // Turn the "3" of roundNumber into a "4": still valid JSON, wrong signature.
        let at = raw
            .iter()
            .rposition(|&b| b == b'3')
            .filter(|&i| i >= SIGNATURE_LENGTH)
            .unwrap();
        raw[at] = b'4';
        let tampered = bs58::encode(raw).into_string();
        let err = verify_payload(&tampered, &pk).unwrap_err();
        assert_eq!(err, VerifyError::BadSignature { key: pk.clone() });
        assert_eq!(
            err.to_string(),
            format!("signature does not verify for {pk}")
        );
    }

    #[test]
    fn rejects_wrong_key() {
        let (sk, pk) = key(1);
        let (_, other) = key(2);
        let signed = sign_payload(&sk, &payload(&pk));
        assert_eq!(
            verify_payload(&signed, &other).unwrap_err(),
            VerifyError::BadSignature { key: other }
        );
    }

    #[test]
    fn rejects_bad_base58() {
        let (_, pk) = key(1);
        // '0', 'O', 'I' and 'l' are not in the base58 alphabet.
        let err = verify_payload("0OIl", &pk).unwrap_err();
        assert!(matches!(err, VerifyError::BadBase58(_)), "{err:?}");
        assert!(err.to_string().starts_with("bad base58"));
    }

    #[test]
    fn rejects_bad_public_key() {
        let (sk, pk) = key(1);
        let signed = sign_payload(&sk, &payload(&pk));
        let err = verify_payload(&signed, "abc").unwrap_err();
        assert!(matches!(err, VerifyError::BadPublicKey { .. }), "{err:?}");
    }

    #[test]
    fn rejects_too_short() {
        let (_, pk) = key(1);
        let short = bs58::encode([7u8; 63]).into_string();
        assert_eq!(
            verify_payload(&short, &pk).unwrap_err(),
            VerifyError::TooShort(63)
        );
    }

    #[test]
    fn rejects_non_json_payload() {
        use ed25519_dalek::Signer;
        let (sk, pk) = key(1);
        let message = b"not json at all";
        let mut blob = sk.sign(message).to_bytes().to_vec();
        blob.extend_from_slice(message);
        let signed = bs58::encode(blob).into_string();
        // The signature itself is good: `open` succeeds, parsing does not.
        assert_eq!(open(&signed, &pk).unwrap(), message);
        let err = verify_payload(&signed, &pk).unwrap_err();
        assert!(matches!(err, VerifyError::NotJson(_)), "{err:?}");
    }

    #[test]
    fn rejects_field_mismatch() {
        let (sk, pk) = key(1);
        let (_, other) = key(2);
        let p = verify_payload(&sign_payload(&sk, &payload(&pk)), &pk).unwrap();
        let err = expect_field(&p, "stakingKey", &json!(other)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("payload field stakingKey mismatch"),
            "{err}"
        );
        let err = expect_field(&p, "action", &json!("audit")).unwrap_err();
        assert!(err.to_string().contains("found \"task\""), "{err}");
        let err = expect_field(&p, "pubKey", &json!("x")).unwrap_err();
        assert!(err.to_string().ends_with("found nothing"), "{err}");
    }
}
