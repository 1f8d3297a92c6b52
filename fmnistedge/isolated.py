"""Start Python child processes on the installed code, never on the current directory's.

``python -m MODULE`` and ``python -c CODE`` put the current directory first on
``sys.path``. From the repository root that makes a child import the source
folder ``./fmnistedge`` (which lacks ``runtime`` and ``export``: they are mapped
from other folders at install time) instead of the installed package, and
anywhere it runs whatever ``cv2.py`` or ``fmnistedge/`` a stranger left there.
"""

from __future__ import annotations

import sys


def python_argv(*args: str) -> list[str]:
    """``[python, FLAG, *args]`` where FLAG keeps the current directory off ``sys.path``.

    ``-P`` (Python 3.11+) does only that, so PYTHONPATH and the user site still
    work; 3.10 lacks it and gets ``-I``, which also ignores those. The child's
    environment variables (data folder, log levels) are passed on either way.
    """
    return [sys.executable, "-P" if sys.version_info >= (3, 11) else "-I", *args]
