"""The worker server both runners start: a Koii-style task server that
verifies every signed payload (base58 of signature + JSON, as
`namespaceWrapper.payloadSigning` makes it) with PyNaCl.

    GET  /healthz      -> 200 {"ok": true}
    POST /task         {signature, stakingKey}            -> the round's result
    POST /submission   {signature, stakingKey}            -> {"submission": ...}
    POST /audit        {signature, stakingKey, submission,
                        submitterKey, submissionSignature} -> {"valid": bool}

Environment: PORT, TASK_ID (checked against each payload), WORKER_NAME,
TASK_WORK_MS (server time each /task takes, as a node's real task would;
default 0; `cargo xtask bench groups` sets it).

Plain sockets, one request per connection (`Connection: close`), a thread
each: it starts in about 60 ms of CPU (http.server alone would double that),
which matters when 50 of them start at once on 2 cores. It is the same
program for promwasm, prometheus-test and the floor.
"""

import hashlib
import json
import os
import socket
import threading
import time

import base58
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

TASK_ID = os.environ.get("TASK_ID", "")
NAME = os.environ.get("WORKER_NAME", "worker")
RESULTS = {}  # round -> this worker's result
WORK_SECONDS = float(os.environ.get("TASK_WORK_MS", "0")) / 1000


class Refused(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def open_signed(signature, key):
    """The JSON payload inside `signature`, signed by base58 public `key`."""
    try:
        signed = base58.b58decode(signature)
        payload = VerifyKey(base58.b58decode(key)).verify(signed)
    except (BadSignatureError, ValueError, TypeError) as e:
        raise Refused(401, f"bad signature: {e}")
    return json.loads(payload)


def check_action(body, action):
    """The verified payload of `body`, which must be `action` by its signer."""
    payload = open_signed(body.get("signature", ""), body.get("stakingKey", ""))
    if payload.get("action") != action:
        raise Refused(401, f"signed for {payload.get('action')!r}, not {action!r}")
    if payload.get("stakingKey") != body.get("stakingKey"):
        raise Refused(401, "signed by another staking key")
    if TASK_ID and payload.get("taskId") != TASK_ID:
        raise Refused(401, f"signed for task {payload.get('taskId')!r}")
    return payload


def task(body):
    payload = check_action(body, "task")
    if WORK_SECONDS:
        time.sleep(WORK_SECONDS)
    rnd = payload["roundNumber"]
    digest = hashlib.sha256(f"{TASK_ID}:{rnd}:{body['stakingKey']}".encode()).hexdigest()
    RESULTS[rnd] = {"roundNumber": rnd, "todo": f"todo-{rnd}", "result": digest}
    return RESULTS[rnd]


def submission(body):
    payload = check_action(body, "fetch-submission")
    rnd = payload["roundNumber"]
    if rnd not in RESULTS:
        raise Refused(409, f"no task done in round {rnd}")
    return {"submission": RESULTS[rnd]}


def audit(body):
    payload = check_action(body, "audit")
    signed = open_signed(body.get("submissionSignature", ""), body.get("submitterKey", ""))
    if signed != body.get("submission"):
        return {"valid": False, "reason": "the submission is not what its worker signed"}
    if signed.get("roundNumber") != payload["roundNumber"]:
        return {"valid": False, "reason": "the submission is from another round"}
    return {"valid": True, "roundNumber": signed.get("roundNumber")}


ROUTES = {"/task": task, "/submission": submission, "/audit": audit}


def respond(status, doc):
    data = json.dumps(doc).encode()
    reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
              409: "Conflict"}.get(status, "Error")
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n")
    return head.encode() + data


def handle(method, path, raw):
    if method == "GET":
        if path == "/healthz":
            return respond(200, {"ok": True, "worker": NAME})
        return respond(404, {"success": False, "error": "not found"})
    route = ROUTES.get(path)
    if method != "POST" or route is None:
        return respond(404, {"success": False, "error": "not found"})
    try:
        return respond(200, {"success": True, "data": route(json.loads(raw))})
    except Refused as e:
        return respond(e.status, {"success": False, "error": str(e)})
    except (ValueError, KeyError, TypeError) as e:
        return respond(400, {"success": False, "error": f"bad request: {e}"})


def serve(conn):
    """One request per connection (`Connection: close`), as plain as HTTP/1.1 gets."""
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return
            body += chunk
        conn.sendall(handle(method, path, body[:length]))


if __name__ == "__main__":
    listener = socket.create_server(("127.0.0.1", int(os.environ["PORT"])), backlog=64)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
