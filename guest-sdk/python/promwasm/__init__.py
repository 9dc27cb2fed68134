"""Write promwasm steps in Python.

A step component exports one or more *stages*, each registered with `@stage`:

    from promwasm import WitWorld, runner, stage

    @stage("hello", "Say which round it is")
    def hello(args):
        return {"round": runner.current_round(), "name": args.get("name", "world")}

The app module must expose `WitWorld` (componentize-py exports it). Everything
a step may do outside its sandbox goes through `runner`, `worker`, `signing`,
`http`, `log` and `db`; a refusal raises `StepError`.
"""

from . import db, http, log, runner, signing, worker
from .errors import Skip, StepError
from .stage import Args, WitWorld, stage

__all__ = [
    "Args",
    "Skip",
    "StepError",
    "WitWorld",
    "db",
    "http",
    "log",
    "runner",
    "signing",
    "stage",
    "worker",
]
