"""Measurement: ``bench`` (latency against accuracy, one process per model file), the
per-architecture ``report`` and the collecting and rendering of ``results/`` tables."""
