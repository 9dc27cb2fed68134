// What the stages share: Koii-signed payloads and calls to the worker server
// (the JavaScript twin of examples/orca/steps/src/koii.rs).

import { http, runner, signing, worker } from "../../../guest-sdk/js/promwasm.js";

/** `task_id` from config.yaml. */
export function taskId() {
  const id = runner.config("task_id");
  if (id === null) throw new Error("config.yaml has no `task_id`");
  return id;
}

/**
 * `value` with every object's keys in sorted order. The Rust stages build
 * their JSON with serde_json, whose objects keep keys sorted; sorting here
 * makes every payload we sign and every body we send byte for byte theirs.
 */
export function sorted(value) {
  if (Array.isArray(value)) return value.map(sorted);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sorted(value[k])]),
  );
}

/** Sign `value` like Koii's `namespaceWrapper.payloadSigning` (JSON.stringify form). */
export function sign(value) {
  return signing.signJson("staking", sorted(value), "js");
}

/** The payload every signed request starts from. */
function payload(action, me) {
  return { taskId: taskId(), roundNumber: runner.currentRound(), action, stakingKey: me.stakingKey() };
}

/** `payload(action)`, signed. */
export function signAction(action, me) {
  return sign(payload(action, me));
}

/** The body of `POST /task` for the current worker. */
export function taskBody() {
  const me = worker.current();
  return {
    signature: sign({ ...payload("task", me), pubKey: me.mainKey() }),
    stakingKey: me.stakingKey(),
    pubKey: me.mainKey(),
  };
}

/** `POST <current worker>/<path>` with a JSON body; any status is returned. */
export function post(path, body) {
  return http.post(worker.current().endpoint(path), { json: sorted(body) });
}

/** The `data` of a `{"success": true, "data": ...}` answer; otherwise throws with the server's `error`. */
export function data(response) {
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${serverError(response)}`);
  const answer = response.json();
  if (answer?.success !== true) throw new Error(`server answered ${JSON.stringify(answer)}`);
  return answer.data ?? null;
}

/** The `error` of an error answer, or its body when there is none. */
export function serverError(response) {
  try {
    const answer = response.json();
    if (answer && typeof answer === "object" && !Array.isArray(answer) && "error" in answer) {
      return text(answer.error);
    }
  } catch {
    // Not JSON: the body it is.
  }
  return response.text();
}

/** A JSON string's text, or the JSON itself. */
export function text(value) {
  return typeof value === "string" ? value : JSON.stringify(value ?? null);
}

/** `signature` with its middle character replaced by another base58 digit. */
export function tamper(signature) {
  const at = Math.floor(signature.length / 2);
  if (at >= signature.length) return signature;
  const replacement = signature[at] === "A" ? "B" : "A";
  return signature.slice(0, at) + replacement + signature.slice(at + 1);
}

/**
 * Index of round `round`'s todo among `len`, as the server picks it: round
 * 1 is the first, wrapping around; `null` when there are no todos.
 */
export function roundIndex(round, len) {
  return len > 0 ? ((round % len) + len - 1) % len : null;
}
