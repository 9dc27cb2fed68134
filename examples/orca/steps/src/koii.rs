//! What the stages share: Koii-signed payloads and calls to the worker server.

use promwasm_guest::http::Response;
use promwasm_guest::prelude::*;
use promwasm_guest::worker::Worker;

/// `task_id` from config.yaml.
pub fn task_id() -> Result<String> {
    runner::config("task_id")?.context("config.yaml has no `task_id`")
}

/// The payload every signed request starts from.
fn payload(action: &str, me: &Worker) -> Result<Value> {
    Ok(json!({
        "taskId": task_id()?,
        "roundNumber": runner::current_round(),
        "action": action,
        "stakingKey": me.staking_key()?,
    }))
}

/// `payload(action)` signed like Koii's `namespaceWrapper.payloadSigning`.
pub fn sign_action(action: &str, me: &Worker) -> Result<String> {
    signing::sign_json("staking", &payload(action, me)?, JsonStyle::Js)
}

/// The body of `POST /task` for the current worker.
pub fn task_body() -> Result<Value> {
    let me = worker::current();
    let mut payload = payload("task", &me)?;
    payload["pubKey"] = me.main_key()?.into();
    Ok(json!({
        "signature": signing::sign_json("staking", &payload, JsonStyle::Js)?,
        "stakingKey": me.staking_key()?,
        "pubKey": me.main_key()?,
    }))
}

/// `POST <current worker>/<path>` with a JSON body; any status is returned.
pub fn post(path: &str, body: &Value) -> Result<Response> {
    http::post(worker::current().endpoint(path))
        .json(body)
        .send()
}

/// The `data` of a `{"success": true, "data": ...}` answer; otherwise an
/// error carrying the server's `error` text.
pub fn data(response: &Response) -> Result<Value> {
    if !response.is_success() {
        bail!("HTTP {}: {}", response.status, server_error(response));
    }
    let answer: Value = response.json()?;
    ensure!(answer["success"] == true, "server answered {answer}");
    Ok(answer["data"].clone())
}

/// The `error` of an error answer, or its body when there is none.
pub fn server_error(response: &Response) -> String {
    match response.json::<Value>() {
        Ok(Value::Object(answer)) if answer.contains_key("error") => text(&answer["error"]),
        _ => response.text(),
    }
}

/// A JSON string's text, or the JSON itself.
pub fn text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// `signature` with its middle character replaced by another base58 digit.
pub fn tamper(signature: String) -> String {
    let mut chars: Vec<char> = signature.chars().collect();
    if let Some(c) = chars.get_mut(signature.len() / 2) {
        *c = if *c == 'A' { 'B' } else { 'A' };
    }
    chars.into_iter().collect()
}

/// Index of round `round`'s todo among `len`, as the server picks it: round
/// 1 is the first, wrapping around; `None` when there are no todos.
pub fn round_index(round: u32, len: usize) -> Option<usize> {
    (len > 0).then(|| (round as usize % len + len - 1) % len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tamper_changes_one_base58_character() {
        let signature = "3yZe7d9AAbc";
        let tampered = tamper(signature.to_owned());
        assert_eq!(tampered.len(), signature.len());
        let changed = signature
            .chars()
            .zip(tampered.chars())
            .filter(|(a, b)| a != b);
        assert_eq!(changed.count(), 1);
        assert_eq!(tamper("AAA".into()), "ABA");
    }

    #[test]
    fn round_index_matches_the_server() {
        assert_eq!(round_index(1, 3), Some(0));
        assert_eq!(round_index(3, 3), Some(2));
        assert_eq!(round_index(4, 3), Some(0));
        assert_eq!(round_index(0, 3), Some(2));
        assert_eq!(round_index(2, 0), None);
    }
}
