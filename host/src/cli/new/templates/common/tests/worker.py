#!/usr/bin/env python3
"""A tiny worker for testing the {{name}} step (Python standard library only).

promwasm starts it for `tests/config.yaml` with PORT and WORKER_NAME set.

- GET /healthz answers {"ok": true} (promwasm waits for it before the steps run).
- POST /task takes {"signature": ..., "stakingKey": ...}: the signature is
  base58(ed25519 signature ‖ payload), Koii's payloadSigning format. It opens
  it with stakingKey, as Koii's nacl.sign.open does, checks that the signed
  JSON names the same stakingKey, and answers
  {"ok": true, "worker": ..., "payload": <the signed JSON>, "signature": ...};
  400 for a malformed request, 401 when the signature does not verify.

Replace it with your task's real worker server when you have one.
"""

import hashlib
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58decode(text):
    """Bytes of a base58 string (Bitcoin alphabet); ValueError when it is not one."""
    number = 0
    for char in text:
        number = number * 58 + B58.index(char)
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + raw


# Ed25519 verification, RFC 8032 section 5.1.7 (points in extended coordinates).
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def point_add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    e1, h1 = (y1 - x1) * (y2 - x2) % P, (y1 + x1) * (y2 + x2) % P
    c, d = 2 * t1 * t2 * D % P, 2 * z1 * z2 % P
    e, f, g, h = h1 - e1, d - c, d + c, h1 + e1
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def point_mul(scalar, point):
    result = (0, 1, 1, 0)
    while scalar:
        if scalar & 1:
            result = point_add(result, point)
        point = point_add(point, point)
        scalar >>= 1
    return result


def point_equal(a, b):
    x1, y1, z1, _ = a
    x2, y2, z2, _ = b
    return (x1 * z2 - x2 * z1) % P == 0 and (y1 * z2 - y2 * z1) % P == 0


def point_decompress(data):
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        if sign:
            return None
        return (0, y, 1, 0)
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


BASE = point_decompress((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))


def verify(public_key, signature, message):
    """Whether `signature` (64 bytes) is `public_key`'s ed25519 signature of `message`."""
    a, r = point_decompress(public_key), point_decompress(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= L:
        return False
    digest = hashlib.sha512(signature[:32] + public_key + message).digest()
    h = int.from_bytes(digest, "little") % L
    return point_equal(point_mul(s, BASE), point_add(r, point_mul(h, a)))


class Worker(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            self.answer(200, {"ok": True})
        else:
            self.answer(404, {"error": f"no route GET {self.path}"})

    def do_POST(self):
        if self.path != "/task":
            return self.answer(404, {"error": f"no route POST {self.path}"})
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length))
            staking_key = body["stakingKey"]
            signed = b58decode(body["signature"])
            public_key = b58decode(staking_key)
        except (ValueError, KeyError, TypeError) as e:
            return self.answer(400, {"error": f"bad request: {type(e).__name__}: {e}"})
        signature, message = signed[:64], signed[64:]
        if len(signed) < 64 or not verify(public_key, signature, message):
            return self.answer(401, {"error": "the signature does not verify with stakingKey"})
        try:
            payload = json.loads(message)
        except ValueError:
            return self.answer(400, {"error": "the signed payload is not JSON"})
        if not isinstance(payload, dict) or payload.get("stakingKey") != staking_key:
            return self.answer(401, {"error": "the signed payload names another stakingKey"})
        print(f"verified a payload signed by {staking_key}: {message.decode()}", flush=True)
        self.answer(
            200,
            {
                "ok": True,
                "worker": os.environ.get("WORKER_NAME"),
                "payload": payload,
                "signature": body["signature"],
            },
        )

    def log_message(self, format, *args):
        # One line per request, on stdout (the default writes them to stderr).
        print(format % args, flush=True)

    def answer(self, status, value):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "5000"))
    print(f"listening on 127.0.0.1:{port}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Worker).serve_forever()
