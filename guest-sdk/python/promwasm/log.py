"""Log lines, shown with the step, round and worker as prefix.

    log.info("starting")
    log.warn(f"{retries} retries left")
"""

from wit_world.imports import log as _imp


def trace(message):
    """Log at `trace` level."""
    _imp.log(_imp.Level.TRACE, str(message))


def debug(message):
    """Log at `debug` level."""
    _imp.log(_imp.Level.DEBUG, str(message))


def info(message):
    """Log at `info` level."""
    _imp.log(_imp.Level.INFO, str(message))


def warn(message):
    """Log at `warn` level."""
    _imp.log(_imp.Level.WARN, str(message))


def error(message):
    """Log at `error` level."""
    _imp.log(_imp.Level.ERROR, str(message))
