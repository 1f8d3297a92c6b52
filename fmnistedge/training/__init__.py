"""Training: the Fashion-MNIST data, augmentation, the architecture zoo, real-photo
training and ``train`` itself. Imports TensorFlow/Keras (lazily); the runtime never
imports this package."""
