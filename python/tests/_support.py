"""Shared by the tests: import the package from this tree's src/ (not an installed copy)."""

import os
import sys

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(PYTHON_DIR, "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)


def child_env(**extra):
    """An environment for a child Python that imports the package from src/ and has no SWEEP_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWEEP_")}
    env["PYTHONPATH"] = SRC
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env
