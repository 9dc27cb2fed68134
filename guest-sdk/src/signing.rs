//! Signing with the current worker's keys; private keys stay in the host.
//!
//! ```no_run
//! use promwasm_guest::prelude::*;
//!
//! # fn demo() -> Result<()> {
//! // Koii's namespaceWrapper.payloadSigning: base58(signature ‖ JSON.stringify(payload)).
//! let signed = signing::sign_json("staking", &json!({ "action": "task" }), JsonStyle::Js)?;
//! let key = signing::public_key("staking")?;
//! # Ok(()) }
//! ```

use serde::Serialize;

use crate::bindings::promwasm::step::signing as imp;
use crate::json::to_json;
use crate::{Context, Result};

/// How [`sign_json`] turns a value into the bytes it signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonStyle {
    /// `json.dumps(payload, sort_keys=True)`, byte for byte (prometheus-test).
    Python,
    /// `JSON.stringify(payload)` (Koii's JavaScript tasks).
    Js,
}

/// Sign `payload` with the `role`'s key (`main` or `staking`):
/// base58(signature ‖ payload), Koii's `payloadSigning` format.
pub fn sign(role: impl AsRef<str>, payload: impl AsRef<[u8]>) -> Result<String> {
    let role = role.as_ref();
    imp::sign(role, payload.as_ref()).with_context(|| context(role))
}

/// Canonicalise `payload` as JSON in `style`, then [`sign`] the bytes.
pub fn sign_json<T: Serialize + ?Sized>(
    role: impl AsRef<str>,
    payload: &T,
    style: JsonStyle,
) -> Result<String> {
    let role = role.as_ref();
    let style = match style {
        JsonStyle::Python => imp::JsonStyle::Python,
        JsonStyle::Js => imp::JsonStyle::Js,
    };
    imp::sign_json(role, &to_json(payload, "payload")?, style).with_context(|| context(role))
}

/// A raw 64-byte ed25519 signature of `payload`.
pub fn sign_detached(role: impl AsRef<str>, payload: impl AsRef<[u8]>) -> Result<Vec<u8>> {
    let role = role.as_ref();
    imp::sign_detached(role, payload.as_ref()).with_context(|| context(role))
}

/// The `role`'s base58 public key.
pub fn public_key(role: impl AsRef<str>) -> Result<String> {
    let role = role.as_ref();
    imp::public_key(role).with_context(|| format!("public key `{role}`"))
}

fn context(role: &str) -> String {
    format!("signing with `{role}`")
}
