"""labnn: the experiments of an MNIST neural-network assignment, run with Keras 3."""

__version__ = "0.1.0"
