"""The {{name}} step: one stage that signs a payload with the worker's
staking key and POSTs it to the worker, keeping the worker's answer in the
runner store.

Build: ./build.sh (see README.md). The SDK is sdk/promwasm/.
"""

import json

from promwasm import WitWorld, http, log, runner, signing, stage, worker

__all__ = ["WitWorld"]  # the component's exports, implemented by the SDK


@stage("{{name}}", "Sign a payload with the worker's staking key and POST it to the worker")
class Step:
    def prepare(self, args):
        """Sign this round's payload. The private key stays in the host: the
        step only asks for a signature. What this returns is `execute`'s `signed`."""
        staking_key = worker.current().staking_key()
        payload = {"action": "{{name}}", "round": runner.current_round(), "stakingKey": staking_key}
        # base58(signature ‖ JSON.stringify(payload)): Koii's payloadSigning format.
        signature = signing.sign_json("staking", payload, signing.JS)
        return {"signature": signature, "stakingKey": staking_key}

    def execute(self, args, signed):
        """POST the signed payload to the worker and keep its answer in the
        runner store, where later steps can read it (`runner.get`). Raise to fail."""
        me = worker.current()
        answer = http.post(me.endpoint("task"), json=signed).raise_for_status().json()
        log.info(f"{me.name} answered {json.dumps(answer)}")
        runner.set("{{name}}", answer)
        return answer
