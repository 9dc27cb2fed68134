"""JSON as it crosses the boundary: by default keys sorted and no spaces, the
text Rust's serde_json gives, so a Python step stores and signs the same bytes
a Rust one does. MongoDB documents keep their key order (a sort spec's order
is its meaning)."""

import json

from .errors import StepError


def dumps(value, what="value", sort_keys=True):
    """`value` as compact JSON text, keys sorted unless told otherwise; a
    StepError naming `what` when it is not JSON-serialisable."""
    try:
        return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise StepError(f"{what}: cannot serialise: {e}") from None


def loads(text, what="value"):
    """JSON text from the host parsed; a StepError naming `what` when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError as e:
        raise StepError(f"{what}: {e}") from None


def text(value):
    """A JSON string's text, or the JSON itself (`null` for None)."""
    return value if isinstance(value, str) else dumps(value)
