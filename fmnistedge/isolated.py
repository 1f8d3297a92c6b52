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
    work. 3.10 lacks it (and ``-I`` would also drop a ``pip install --user``
    package), so there the child removes ``sys.path[0]`` itself before running
    ``-m MODULE`` or ``-c CODE``. The child's environment variables (data folder,
    log levels) are passed on either way.
    """
    if sys.version_info >= (3, 11):
        return [sys.executable, "-P", *args]
    if args and args[0] == "-m":
        launcher = ("import runpy, sys; del sys.path[0]; "
                    f"runpy.run_module({args[1]!r}, run_name='__main__', alter_sys=True)")
        return [sys.executable, "-c", launcher, *args[2:]]
    if args and args[0] == "-c":
        return [sys.executable, "-c", "import sys; del sys.path[0]\n" + args[1], *args[2:]]
    return [sys.executable, *args]
