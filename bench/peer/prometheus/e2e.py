"""prometheus-test's runner script, as its README has it (`e2e.py`).

    python e2e.py CONFIG SCENARIO [--reset]

Run from the project root (the keypair paths in tests/.env are relative to it).
"""

import sys
from pathlib import Path

from prometheus_test import TestRunner

from steps import scenario


def main():
    config, name = Path(sys.argv[1]).resolve(), sys.argv[2]
    runner = TestRunner(steps=scenario(name), config_file=config)
    runner.run(force_reset="--reset" in sys.argv[3:])


if __name__ == "__main__":
    main()
