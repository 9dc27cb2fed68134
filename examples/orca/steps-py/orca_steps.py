"""Stages of the example Orca task, in Python: the same as examples/orca/steps
(Rust) — the same requests, signed payloads, store keys and results — so the
same worker server accepts them.

| stage | args | what it does |
| --- | --- | --- |
| `task` | | `POST /task`, stores `task_result` |
| `submission` | | `POST /submission`, signs and stores `submission.<worker>` |
| `audit` | `target` | `POST /audit` of `submission.<target>`, stores `audit.<target>` |
| `tamper-task` | | `task` with a corrupted signature; fails with the server's 401 |
| `check-round` | `skip_unless_round` | skips except in that round |
| `todos-seen` | | counts and reads this task's todos in MongoDB |
| `post-load` | `assign` | post-load hook: assigns todos round-robin to workers |
"""

from itertools import cycle

import koii
from promwasm import Skip, StepError, WitWorld, db, log, runner, signing, stage, worker
from promwasm._json import text

__all__ = ["WitWorld"]  # componentize-py exports it


@stage("task", "Run the round's task on the current worker")
class Task:
    def prepare(self, args):
        return koii.task_body()

    def execute(self, args, body):
        result = koii.data(koii.post("task", body))
        runner.set("task_result", result)
        return result


@stage("submission", "Fetch the worker's submission and store it signed")
class Submission:
    def prepare(self, args):
        me = worker.current()
        signature = koii.sign_action("fetch-submission", me)
        return {"signature": signature, "stakingKey": me.staking_key()}

    def execute(self, args, body):
        me = worker.current()
        answer = koii.data(koii.post("submission", body))
        if not isinstance(answer, dict) or "submission" not in answer:
            raise StepError("answer has no `submission`")
        submission = answer["submission"]
        record = {
            "submission": submission,
            "signature": signing.sign_json("staking", submission),
            "stakingKey": me.staking_key(),
        }
        runner.set(f"submission.{me.name}", record)
        return record


@stage("audit", "Audit another worker's submission (args: target)")
class Audit:
    def prepare(self, args):
        me = worker.current()
        target = args["target"]
        stored = runner.get(f"submission.{target}")
        if stored is None:
            round_number = runner.current_round()
            raise StepError(
                f"no submission from {target} in round {round_number} — did step submission run?"
            )
        return {
            "signature": koii.sign_action("audit", me),
            "stakingKey": me.staking_key(),
            "submission": stored.get("submission"),
            "submitterKey": stored.get("stakingKey"),
            "submissionSignature": stored.get("signature"),
        }

    def execute(self, args, body):
        target = args["target"]
        verdict = koii.data(koii.post("audit", body))
        if not isinstance(verdict, dict) or verdict.get("valid") is not True:
            reason = verdict.get("reason") if isinstance(verdict, dict) else None
            raise StepError(f"audit of {target} failed: {text(reason)}")
        runner.set(f"audit.{target}", verdict)
        return verdict


@stage("tamper-task", "Send `task` with a tampered signature; fails with the server's 401")
class TamperTask:
    def prepare(self, args):
        body = koii.task_body()
        body["signature"] = koii.tamper(body["signature"])
        return body

    def execute(self, args, body):
        response = koii.post("task", body)
        if response.status == 401:
            raise StepError(f"HTTP 401: {koii.server_error(response)}")
        if response.ok:
            log.error("the server accepted a tampered signature")
            return koii.data(response)
        raise StepError(f"expected HTTP 401, got {response.status}: {koii.server_error(response)}")


@stage("check-round", "Skip unless the round is `skip_unless_round`")
class CheckRound:
    def prepare(self, args):
        return runner.current_round()

    def execute(self, args, round_number):
        only = args.get("skip_unless_round")
        if only is not None and (type(only) is not int or only < 0):
            raise StepError(f"stage `check-round`: args: skip_unless_round {text(only)} is no round")
        if only is not None and only != round_number:
            return Skip(f"only runs in round {only}")
        return {"round": round_number}


@stage("todos-seen", "Count this task's todos and read this round's (db: read)")
def todos_seen(args):
    task = {"taskId": koii.task_id()}
    count = db.count("todos", task)
    todos = db.find("todos", task, sort={"roundNumber": 1, "_id": 1})
    index = koii.round_index(runner.current_round(), len(todos))
    return {"count": count, "todo": None if index is None else todos[index]}


@stage("post-load", "Assign this task's todos to workers round-robin")
def post_load(args):
    names = args.get("assign")
    if names is None:
        names = worker.names()
    if not names:
        raise StepError("no workers to assign todos to")
    todos = db.find("todos", {"taskId": koii.task_id()})
    updated = 0
    for todo, name in zip(todos, cycle(names)):
        updated += db.update_many("todos", {"_id": todo["_id"]}, {"$set": {"assignedTo": name}})
    return {"updated": updated}
