"""Stages: the `@stage` decorator and the component's exports (`WitWorld`)."""

import sys
import traceback

from componentize_py_types import Err
from wit_world.imports import types

from . import _json
from .errors import Skip, StepError

_STAGES = {}


class Args(dict):
    """A step's `args` (a dict); a missing key names the stage and the field."""

    def __init__(self, stage, values):
        super().__init__(values)
        self._stage = stage

    def __missing__(self, key):
        raise StepError(f"stage `{self._stage}`: args: missing field `{key}`")


def stage(name, description):
    """Register a stage under `name` (what config.yaml's `stage:` says), with one
    line saying what it does (`promwasm inspect` lists it).

    On a function `f(args)`: the stage's work, run in `execute`.
    On a class: `prepare(self, args)` gathers what the stage needs (optional),
    and whatever it returns is given to `execute(self, args, data)` as `data`.

    `args` is the step's `args` from config.yaml, `{}` when absent. Return any
    JSON value (recorded in the report) or `Skip("why")`; raise `StepError`
    (or any exception) to fail.
    """

    def register(target):
        if name in _STAGES:
            raise ValueError(f"stage `{name}` is registered twice")
        _STAGES[name] = (description, target)
        return target

    return register


def _prepare(target, args):
    if isinstance(target, type):
        prepare = getattr(target(), "prepare", None)
        return prepare(args) if prepare else None
    return None


def _execute(target, args, data):
    if isinstance(target, type):
        return target().execute(args, data)
    return target(args)


class WitWorld:
    """The component's exports: every registered stage. A step's app module
    exposes it with `from promwasm import WitWorld`."""

    def stages(self):
        return [types.StageInfo(name, d) for name, (d, _) in _STAGES.items()]

    def prepare(self, stage, args):
        def run(target):
            data = _prepare(target, _args(stage, args))
            return _json.dumps(data, f"stage `{stage}`: data")

        return _dispatch(stage, run)

    def execute(self, stage, args, data):
        def run(target):
            data_value = _json.loads(data, f"stage `{stage}`: data")
            result = _execute(target, _args(stage, args), data_value)
            if isinstance(result, Skip):
                return types.Outcome_Skip(result.reason)
            return types.Outcome_Success(_json.dumps(result, f"stage `{stage}`: output"))

        return _dispatch(stage, run)


def _args(stage, text):
    value = _json.loads(text, f"stage `{stage}`: args") if text.strip() else None
    if value is None:
        value = {}
    return Args(stage, value) if isinstance(value, dict) else value


def _dispatch(stage, run):
    """Run `run(target)` for `stage`; every failure becomes the export's error."""
    found = _STAGES.get(stage)
    if found is None:
        known = ", ".join(f"`{n}`" for n in _STAGES)
        raise Err(f"unknown stage `{stage}`; this component has {known}")
    try:
        return run(found[1])
    except StepError as e:
        raise Err(str(e)) from None
    except Err as e:
        raise Err(str(e.value)) from None
    except Exception as e:
        # A bug rather than a verdict: the traceback goes to the step's log.
        traceback.print_exc(file=sys.stderr)
        raise Err(f"stage `{stage}`: {type(e).__name__}: {e}") from None
