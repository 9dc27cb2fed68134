"""Signing with the current worker's keys; private keys stay in the host.

    # Koii's namespaceWrapper.payloadSigning: base58(signature ‖ JSON.stringify(payload))
    signing.sign_json("staking", {"action": "task"})
    signing.sign_json("staking", payload, style=signing.PYTHON)   # json.dumps(sort_keys=True)
"""

from wit_world.imports import signing as _imp

from . import _json
from .errors import host_call

JS = _imp.JsonStyle.JS
"""`JSON.stringify(payload)` (Koii's JavaScript tasks)."""
PYTHON = _imp.JsonStyle.PYTHON
"""`json.dumps(payload, sort_keys=True)`, byte for byte (prometheus-test)."""


def sign(role, payload):
    """Sign `payload` (bytes or str) with `role`'s key: base58(signature ‖ payload)."""
    return host_call(f"signing with `{role}`", _imp.sign, role, _bytes(payload))


def sign_json(role, payload, style=JS):
    """Canonicalise `payload` as JSON in `style` (JS or PYTHON), then `sign` the bytes."""
    text = _json.dumps(payload, "payload")
    return host_call(f"signing with `{role}`", _imp.sign_json, role, text, style)


def sign_detached(role, payload):
    """A raw 64-byte ed25519 signature of `payload` (bytes or str)."""
    return host_call(f"signing with `{role}`", _imp.sign_detached, role, _bytes(payload))


def public_key(role):
    """`role`'s base58 public key."""
    return host_call(f"public key `{role}`", _imp.public_key, role)


def _bytes(payload):
    return payload.encode() if isinstance(payload, str) else bytes(payload)
