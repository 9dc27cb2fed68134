//! `promwasm:step/signing`: signatures with the executing worker's keys,
//! which never leave the host.

use super::StepCtx;
use crate::bindings::signing::{Host, JsonStyle};
use crate::signing::{self, Keypair};

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
        Ok(self.key(&role).map(|k| k.sign_koii(&payload)))
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
        Ok(self
            .key(&role)
            .and_then(|k| k.sign_json(&payload, style).map_err(|e| e.to_string())))
    }

    fn sign_detached(
        &mut self,
        role: String,
        payload: Vec<u8>,
    ) -> wasmtime::Result<Result<Vec<u8>, String>> {
        Ok(self.key(&role).map(|k| k.sign_detached(&payload).to_vec()))
    }

    fn public_key(&mut self, role: String) -> wasmtime::Result<Result<String, String>> {
        Ok(self.key(&role).map(Keypair::public_key_base58))
    }
}
