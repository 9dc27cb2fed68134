//! `promwasm:step/signing`: signatures with the executing worker's keys,
//! which never leave the host. Payloads are bounded: base58 costs grow with
//! the square of the length, and the host does this work on its own thread.

use super::StepCtx;
use crate::bindings::signing::{Host, JsonStyle};
use crate::signing::{self, Keypair};

/// Largest payload `sign`, `sign-json` and `sign-detached` accept, in bytes
/// (a Koii submission is a few hundred; 16 KiB base58-encodes in a few ms).
pub const MAX_PAYLOAD_BYTES: usize = 16 << 10;

fn check_payload(len: usize) -> Result<(), String> {
    if len > MAX_PAYLOAD_BYTES {
        Err(format!(
            "payload of {len} bytes is over the signing limit of {MAX_PAYLOAD_BYTES} bytes; sign a digest of large data instead"
        ))
    } else {
        Ok(())
    }
}

impl StepCtx {
    fn key(&self, role: &str) -> Result<&Keypair, String> {
        let me = self
            .worker
            .current()
            .ok_or("there is no current worker while listing stages")?;
        me.keys.get(role).map(|k| k.as_ref()).ok_or_else(|| {
            let known: Vec<&str> = me.keys.keys().map(String::as_str).collect();
            format!(
                "worker `{}` has no `{role}` keypair (configured: {}); set `keypairs.{role}` in workers.json",
                me.name,
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )
        })
    }
}

impl Host for StepCtx {
    fn sign(&mut self, role: String, payload: Vec<u8>) -> wasmtime::Result<Result<String, String>> {
        Ok(check_payload(payload.len())
            .and_then(|()| self.key(&role))
            .map(|k| k.sign_koii(&payload)))
    }

    fn sign_json(
        &mut self,
        role: String,
        payload: String,
        style: JsonStyle,
    ) -> wasmtime::Result<Result<String, String>> {
        let style = match style {
            JsonStyle::Python => signing::JsonStyle::Python,
            JsonStyle::Js => signing::JsonStyle::Js,
        };
        // Canonical text can be longer than its source (escapes), so the
        // signed bytes are checked again after canonicalising.
        Ok(check_payload(payload.len())
            .and_then(|()| self.key(&role))
            .and_then(|k| {
                let message =
                    signing::canonical::canonicalize(&payload, style).map_err(|e| e.to_string())?;
                check_payload(message.len())?;
                Ok(k.sign_koii(message.as_bytes()))
            }))
    }

    fn sign_detached(
        &mut self,
        role: String,
        payload: Vec<u8>,
    ) -> wasmtime::Result<Result<Vec<u8>, String>> {
        Ok(check_payload(payload.len())
            .and_then(|()| self.key(&role))
            .map(|k| k.sign_detached(&payload).to_vec()))
    }

    fn public_key(&mut self, role: String) -> wasmtime::Result<Result<String, String>> {
        Ok(self.key(&role).map(Keypair::public_key_base58))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_over_the_limit_are_refused_naming_it() {
        assert!(check_payload(MAX_PAYLOAD_BYTES).is_ok());
        let err = check_payload(MAX_PAYLOAD_BYTES + 1).unwrap_err();
        assert!(err.contains("limit of 16384 bytes"), "{err}");
    }
}
