"""The runner store (state shared between steps and rounds) and config.yaml.

Keys use dot notation: `submission.worker1` is the `worker1` field of the
`submission` object. Values are anything `json.dumps` takes.

    runner.set("seen", {"round": runner.current_round()})
    runner.get("seen.round")          # 3; None when absent
    runner.config("task_id")          # "orca-example"
"""

from wit_world.imports import runner as _imp

from . import _json
from .errors import host_call


def get(key):
    """`key`'s value: the current round first, then the global scope; None when absent."""
    found = _imp.get(key)
    return None if found is None else _json.loads(found, f"store key `{key}`")


def set(key, value):
    """Store `value` under `key` for the current round (`rounds.<n>.<key>`)."""
    _set(key, value, _imp.Scope.ROUND)


def set_global(key, value):
    """Store `value` under `key` for every round (`global.<key>`)."""
    _set(key, value, _imp.Scope.GLOBAL)


def _set(key, value, scope):
    what = f"store key `{key}`"
    host_call(what, _imp.set, key, _json.dumps(value, what), scope)


def current_round():
    """The round being run, starting at 1."""
    return _imp.current_round()


def config(key):
    """A value from config.yaml (also keys promwasm does not know); None when absent."""
    found = _imp.config(key)
    return None if found is None else _json.loads(found, f"config key `{key}`")


def run_id():
    """A unique id for this run; the same when a run is resumed."""
    return _imp.run_id()
