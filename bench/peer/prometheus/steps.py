"""prometheus-test's side of `cargo xtask bench peer`: the same stages as
`bench/peer/steps/src/lib.rs` (promwasm's side), written the way
prometheus-test's README shows (requests, create_signature, runner.set).
"""

import time
from functools import partial

import requests
from prometheus_test import TestStep
from prometheus_test.utils import create_signature


def signed_action(runner, worker, action):
    """The body every signed request starts from."""
    payload = {
        "taskId": runner.get("task_id"),
        "roundNumber": runner.get("current_round"),
        "action": action,
        "stakingKey": worker.get_key("staking_public"),
    }
    return {
        "signature": create_signature(worker.get_key("staking_signing"), payload),
        "stakingKey": worker.get_key("staking_public"),
    }


def post(worker, path, body):
    """POST to the worker; the `data` of its `{"success": true}` answer."""
    response = requests.post(f"{worker.get('url')}/{path}", json=body)
    answer = response.json()
    if not response.ok or not answer.get("success"):
        raise RuntimeError(f"POST /{path}: HTTP {response.status_code}: {answer}")
    return answer["data"]


def prepare_task(runner, worker):
    return signed_action(runner, worker, "task")


def execute_task(runner, worker, body):
    result = post(worker, "task", body)
    runner.set("task_result", result)
    return {"success": True, "data": result}


def prepare_submission(runner, worker):
    return signed_action(runner, worker, "fetch-submission")


def execute_submission(runner, worker, body):
    submission = post(worker, "submission", body)["submission"]
    record = {
        "submission": submission,
        "signature": create_signature(worker.get_key("staking_signing"), submission),
        "stakingKey": worker.get_key("staking_public"),
    }
    runner.set(f"submission.{worker.get('name')}", record)
    return {"success": True, "data": record}


def prepare_audit(runner, worker, target):
    stored = runner.get(f"submission.{target}")
    if stored is None:
        raise RuntimeError(f"no submission from {target} this round")
    body = signed_action(runner, worker, "audit")
    body["submission"] = stored["submission"]
    body["submitterKey"] = stored["stakingKey"]
    body["submissionSignature"] = stored["signature"]
    return body


def execute_audit(runner, worker, body, target):
    verdict = post(worker, "audit", body)
    if verdict.get("valid") is not True:
        return {"success": False, "error": f"audit of {target}: {verdict}"}
    runner.set(f"audit.{target}", verdict)
    return {"success": True, "data": verdict}


def prepare_ready(runner, worker):
    return {"ready_at": time.time()}


def execute_ready(runner, worker, data):
    print(f"READY_AT {data['ready_at']:.6f}", flush=True)
    return {"success": True, "data": data}


def prepare_sets(runner, worker):
    return {}


def execute_sets(runner, worker, data, count):
    start = time.perf_counter()
    for i in range(count):
        runner.set("sets.value", i)
    seconds = time.perf_counter() - start
    print(f"SETS_SECONDS {seconds:.6f}", flush=True)
    return {"success": True, "data": {"count": count, "seconds": seconds}}


ORCA = [
    TestStep(
        name="worker1-task",
        description="worker1 does the round's task",
        worker="worker1",
        prepare=prepare_task,
        execute=execute_task,
    ),
    TestStep(
        name="worker1-submission",
        description="worker1 fetches and signs its submission",
        worker="worker1",
        prepare=prepare_submission,
        execute=execute_submission,
    ),
    TestStep(
        name="worker2-audits-worker1",
        description="worker2 audits worker1's submission",
        worker="worker2",
        prepare=partial(prepare_audit, target="worker1"),
        execute=partial(execute_audit, target="worker1"),
    ),
]

READY = TestStep(
    name="ready",
    description="the workers are ready: say when",
    worker="worker1",
    prepare=prepare_ready,
    execute=execute_ready,
)


def sets_step(count):
    return TestStep(
        name="sets",
        description=f"runner.set {count} times",
        worker="worker1",
        prepare=prepare_sets,
        execute=partial(execute_sets, count=count),
    )


def scenario(name):
    """The steps of one scenario: `orca`, `ready` or `ready-sets`."""
    if name == "orca":
        return ORCA
    if name == "ready":
        return [READY]
    if name == "ready-sets":
        return [READY, sets_step(10_000)]
    raise SystemExit(f"unknown scenario {name!r}: orca, ready or ready-sets")
