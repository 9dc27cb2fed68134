// The {{name}} step: one stage that signs a payload with the worker's
// staking key and POSTs it to the worker, keeping the worker's answer in the
// runner store.
//
// Build: ./build.sh (see README.md). The SDK is sdk/promwasm.js.

import { http, log, runner, signing, stage, worker } from "../sdk/promwasm.js";

// The component's exports, implemented by the SDK from what `stage` registers.
export { execute, prepare, stages } from "../sdk/promwasm.js";

stage("{{name}}", "Sign a payload with the worker's staking key and POST it to the worker", {
  // Sign this round's payload. The private key stays in the host: the step
  // only asks for a signature. What this returns is `execute`'s `signed`.
  prepare(_args) {
    const stakingKey = worker.current().stakingKey();
    const payload = { action: "{{name}}", round: runner.currentRound(), stakingKey };
    // base58(signature ‖ JSON.stringify(payload)): Koii's payloadSigning format.
    return { signature: signing.signJson("staking", payload, "js"), stakingKey };
  },

  // POST the signed payload to the worker and keep its answer in the runner
  // store, where later steps can read it (`runner.get`). Throw to fail.
  execute(_args, signed) {
    const me = worker.current();
    const answer = http.post(me.endpoint("task"), { json: signed }).errorForStatus().json();
    log.info(`${me.name} answered ${JSON.stringify(answer)}`);
    runner.set("{{name}}", answer);
    return answer;
  },
});
