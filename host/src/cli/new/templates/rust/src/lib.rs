//! The `{{name}}` step: one stage that signs a payload with the worker's
//! staking key and POSTs it to the worker, keeping the worker's answer in the
//! runner store.
//!
//! Build: `cargo build --release --target wasm32-wasip2` (see README.md).

use promwasm_guest::prelude::*;

/// What `prepare` hands to `execute`, and the body `execute` POSTs.
#[data]
#[serde(rename_all = "camelCase")]
struct Signed {
    /// base58(signature ‖ payload): Koii's `payloadSigning` format.
    signature: String,
    /// The worker's staking public key (base58), to verify the signature with.
    staking_key: String,
}

/// The stage, run as `prepare` then `execute` in a fresh sandbox.
struct {{type}};

impl Stage for {{type}} {
    const NAME: &'static str = "{{name}}";
    const DESCRIPTION: &'static str =
        "Sign a payload with the worker's staking key and POST it to the worker";
    /// The step's `args` in config.yaml: none.
    type Args = NoArgs;
    type Data = Signed;
    type Output = Value;

    /// Sign this round's payload. The private key stays in the host: the
    /// step only asks for a signature.
    fn prepare(_args: &NoArgs) -> Result<Signed> {
        let me = worker::current();
        let staking_key = me.staking_key()?.to_owned();
        let payload = json!({
            "action": "{{name}}",
            "round": runner::current_round(),
            "stakingKey": staking_key,
        });
        let signature = signing::sign_json("staking", &payload, JsonStyle::Js)?;
        Ok(Signed {
            signature,
            staking_key,
        })
    }

    /// POST the signed payload to the worker and keep its answer in the
    /// runner store, where later steps can read it (`runner::get`).
    fn execute(_args: &NoArgs, signed: Signed) -> Result<Outcome<Value>> {
        let me = worker::current();
        let answer: Value = http::post(me.endpoint("task"))
            .json(&signed)
            .send()?
            .error_for_status()?
            .json()?;
        log_info!("{} answered {answer}", me.name);
        runner::set("{{name}}", &answer)?;
        Ok(Outcome::Success(answer))
    }
}

export_stages!({{type}});
