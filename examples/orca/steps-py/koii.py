"""What the stages share: Koii-signed payloads and calls to the worker server."""

from promwasm import StepError, http, runner, signing, worker
from promwasm._json import text


def task_id():
    """`task_id` from config.yaml."""
    found = runner.config("task_id")
    if found is None:
        raise StepError("config.yaml has no `task_id`")
    return found


def payload(action, me):
    """The payload every signed request starts from."""
    return {
        "taskId": task_id(),
        "roundNumber": runner.current_round(),
        "action": action,
        "stakingKey": me.staking_key(),
    }


def sign_action(action, me):
    """`payload(action)` signed like Koii's `namespaceWrapper.payloadSigning`."""
    return signing.sign_json("staking", payload(action, me))


def task_body():
    """The body of `POST /task` for the current worker."""
    me = worker.current()
    signed = payload("task", me)
    signed["pubKey"] = me.main_key()
    return {
        "signature": signing.sign_json("staking", signed),
        "stakingKey": me.staking_key(),
        "pubKey": me.main_key(),
    }


def post(path, body):
    """`POST <current worker>/<path>` with a JSON body; any status is returned."""
    return http.post(worker.current().endpoint(path), json=body)


def data(response):
    """The `data` of a `{"success": true, "data": ...}` answer; otherwise a
    StepError carrying the server's `error` text."""
    if not response.ok:
        raise StepError(f"HTTP {response.status}: {server_error(response)}")
    answer = response.json()
    if not isinstance(answer, dict) or answer.get("success") is not True:
        raise StepError(f"server answered {text(answer)}")
    return answer.get("data")


def server_error(response):
    """The `error` of an error answer, or its body when there is none."""
    try:
        answer = response.json()
    except StepError:
        return response.text()
    if isinstance(answer, dict) and "error" in answer:
        return text(answer["error"])
    return response.text()


def tamper(signature):
    """`signature` with its middle character replaced by another base58 digit."""
    middle = len(signature) // 2
    if middle >= len(signature):
        return signature
    swapped = "B" if signature[middle] == "A" else "A"
    return signature[:middle] + swapped + signature[middle + 1 :]


def round_index(round_number, count):
    """Index of round `round_number`'s todo among `count`, as the server picks it:
    round 1 is the first, wrapping around; None when there are no todos."""
    return (round_number % count + count - 1) % count if count else None
