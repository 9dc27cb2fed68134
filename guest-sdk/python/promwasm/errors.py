"""What a stage raises to fail, and returns to skip."""

from componentize_py_types import Err


class StepError(Exception):
    """Fails the stage; the message is shown in the step's report."""


class Skip:
    """Return `Skip("why")` from a stage to skip it; a skip counts as passing."""

    def __init__(self, reason):
        self.reason = str(reason)

    def __repr__(self):
        return f"Skip({self.reason!r})"


def host_call(what, call, *args):
    """`call(*args)`; a host refusal (`Err`) becomes a StepError `"<what>: <why>"`."""
    try:
        return call(*args)
    except Err as e:
        raise StepError(f"{what}: {e.value}") from None
