"""The TensorFlow-free runtime: preprocessing and inference engines.

Nothing under ``fmnistedge.runtime`` may import TensorFlow; a test enforces it.
"""
