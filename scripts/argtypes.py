"""Argument types shared by the maintainer scripts in this folder (``from argtypes import bounded``:
a script run as ``python scripts/NAME.py`` has this folder first on its path)."""

from __future__ import annotations

import argparse


def bounded(low: int, high: int):
    """An argparse ``type``: a whole number from ``low`` to ``high``, else a one-line usage error."""
    def parse(text: str) -> int:
        if not text.isdigit() or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"a whole number from {low} to {high}, not {text!r}")
        return int(text)
    return parse


def bounded_float(low: float, high: float):
    """An argparse ``type``: a number from ``low`` to ``high``, else a one-line usage error."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not low <= value <= high:  # also refuses nan and inf
            raise argparse.ArgumentTypeError(f"a number from {low:g} to {high:g}, not {text!r}")
        return value
    return parse
