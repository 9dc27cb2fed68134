"""The floor of `cargo xtask bench peer`: what any runner must do, done
plainly. Starts the worker servers, waits until each answers GET /healthz,
sends the scenario's nine signed requests (3 rounds of task, submission and
audit), stops the servers.

    python floor.py orca|ready SERVER BASE_PORT TASK_ID KEYPAIR...

One worker per keypair file (the workers' staking keys), on BASE_PORT,
BASE_PORT+1, ... `ready` sends no request: it prints READY_AT (the wall-clock
time every worker answered) and stops.
"""

import os
import signal
import subprocess
import sys
import time

mode, server, base_port, task_id, keyfiles = (
    sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:])
ports = [base_port + i for i in range(len(keyfiles))]
workers = [
    subprocess.Popen(
        [sys.executable, server],
        env={**os.environ, "PORT": str(port), "TASK_ID": task_id,
             "WORKER_NAME": f"worker{i + 1}", "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
    )
    for i, port in enumerate(ports)
]

import json  # noqa: E402  (the servers start while these load)
import socket  # noqa: E402

import base58  # noqa: E402
from nacl.signing import SigningKey  # noqa: E402


def request(port, method, path, body=None):
    """One HTTP/1.1 exchange on its own connection; (status, JSON answer)."""
    data = b"" if body is None else json.dumps(body).encode()
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            "Connection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head.encode() + data)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(payload)


def wait_ready(port, worker):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"the server on port {port} exited ({worker.returncode})")
        try:
            if request(port, "GET", "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.01)
    raise SystemExit(f"the server on port {port} did not answer in 60 s")


def sign(key, payload):
    """base58(signature + json.dumps(payload, sort_keys=True)), as Koii does."""
    message = json.dumps(payload, sort_keys=True).encode()
    return base58.b58encode(key.sign(message).signature + message).decode()


def post(port, path, body):
    status, answer = request(port, "POST", path, body)
    if status != 200 or not answer.get("success"):
        raise SystemExit(f"POST {path} on port {port}: HTTP {status}: {answer}")
    return answer["data"]


def main():
    for port, worker in zip(ports, workers):
        wait_ready(port, worker)
    if mode == "ready":
        print(f"READY_AT {time.time():.6f}", flush=True)
        return
    keys = []
    for path in keyfiles:
        with open(path) as f:
            key = SigningKey(bytes(json.load(f))[:32])
        keys.append((key, base58.b58encode(bytes(key.verify_key)).decode()))

    def signed(who, rnd, action):
        key, public = keys[who]
        payload = {"taskId": task_id, "roundNumber": rnd, "action": action, "stakingKey": public}
        return {"signature": sign(key, payload), "stakingKey": public}

    for rnd in (1, 2, 3):
        # worker1: task and submission; worker2 audits worker1.
        post(ports[0], "/task", signed(0, rnd, "task"))
        submission = post(ports[0], "/submission", signed(0, rnd, "fetch-submission"))["submission"]
        body = signed(1, rnd, "audit")
        body.update(submission=submission, submitterKey=keys[0][1],
                    submissionSignature=sign(keys[0][0], submission))
        if post(ports[1], "/audit", body).get("valid") is not True:
            raise SystemExit(f"round {rnd}: the audit failed")


try:
    main()
finally:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait()
