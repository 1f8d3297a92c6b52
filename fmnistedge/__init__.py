"""fmnistedge: Fashion-MNIST clothing classifiers from Keras training to a low-end CPU.

The package root holds what every part shares (labels, data loading, the model
zoo, training, the manifest schema and the CLI). ``fmnistedge.export`` converts
Keras models to TFLite and ONNX; ``fmnistedge.runtime`` runs them without
TensorFlow.
"""

from fmnistedge.labels import LABELS, NUM_CLASSES

__version__ = "0.1.0"
__all__ = ["LABELS", "NUM_CLASSES", "__version__"]
