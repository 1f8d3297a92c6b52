"""The Fashion-MNIST class labels, index 0-9. Defined once; everything imports this."""

LABELS: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
NUM_CLASSES = len(LABELS)

# Short names for figures and contact sheets (same order).
SHORT_LABELS = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot")

# Fashion-MNIST images are 28x28 single-channel; every model of the zoo takes this shape.
IMAGE_SIZE = 28
INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)
# The square single-channel input sizes the runtime accepts: Fashion-MNIST's, and twice it for
# a photo model that sees more detail of a photo (Fashion-MNIST images enlarged by pixel
# repetition, runtime.preprocess.enlarge); photos are rendered at the model's size.
INPUT_SIZES = (IMAGE_SIZE, 2 * IMAGE_SIZE)
