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


def bounded_list(low: int, high: int, most: int = 16):
    """An argparse ``type``: a comma-separated list of 1 to ``most`` whole numbers, each from
    ``low`` to ``high`` (``"28,56"`` -> ``[28, 56]``)."""
    one = bounded(low, high)

    def parse(text: str) -> list[int]:
        parts = text.split(",")
        if not 1 <= len(parts) <= most:
            raise argparse.ArgumentTypeError(f"1 to {most} comma-separated whole numbers, not {text!r}")
        return [one(p.strip()) for p in parts]
    return parse
