"""The workers of this task test: who the step runs as, and the others.

    me = worker.current()
    me.staking_key()                  # base58
    worker.get("worker1").endpoint("submission")   # "http://localhost:5000/submission"
    worker.env("API_TOKEN")           # a mapped env var, or None
"""

from wit_world.imports import worker as _imp

from . import _json
from .errors import StepError


class Worker:
    """What a step may know about a worker (never its private keys)."""

    def __init__(self, info):
        self.name = info.name
        self.url = info.url
        self.port = info.port
        self.public_keys = dict(info.public_keys)
        self.fields = _json.loads(info.fields, f"worker `{info.name}`: fields")

    def public_key(self, role):
        """The base58 public key for `role` (`main`, `staking`)."""
        try:
            return self.public_keys[role]
        except KeyError:
            raise StepError(f"worker `{self.name}` has no `{role}` public key") from None

    def staking_key(self):
        """The `staking` public key."""
        return self.public_key("staking")

    def main_key(self):
        """The `main` public key."""
        return self.public_key("main")

    def endpoint(self, path):
        """`path` under the worker's URL: `endpoint("task")` is `<url>/task`."""
        return f"{self.url.rstrip('/')}/{path.lstrip('/')}"

    def __repr__(self):
        return f"Worker({self.name!r}, {self.url!r})"


def current():
    """The worker this step runs as."""
    return Worker(_imp.current())


def get(name):
    """Another worker by name; a StepError listing the known names when unknown."""
    info = _imp.get(name)
    if info is None:
        raise StepError(f"unknown worker `{name}` (workers: {', '.join(names())})")
    return Worker(info)


def names():
    """The names of all workers, in workers.json order."""
    return list(_imp.names())


def env(name):
    """An env var mapped to the current worker in workers.json `env_vars`; None when unmapped."""
    return _imp.get_env(name)
