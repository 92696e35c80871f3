"""Builders for the assignment's networks, compiled and ready to train.

Every builder takes its hyper-parameters as keyword arguments, with the
assignment's values as defaults, and a `seed` that fixes the initial weights:
the same seed gives the same network on every run, whatever ran before.
"""

from __future__ import annotations

import keras
from keras import layers

INPUT_SHAPE = (28, 28)
NUM_CLASSES = 10


class _Seeds:
    """Distinct initializer seeds per layer, derived from one run seed."""

    def __init__(self, seed: int):
        self.seed, self.count = seed, 0

    def glorot(self):
        self.count += 1
        return keras.initializers.GlorotUniform(seed=self.seed * 1000 + self.count)

    def he(self):
        self.count += 1
        return keras.initializers.HeNormal(seed=self.seed * 1000 + self.count)


def build_notebook_mlp(
    *, hidden: tuple[int, ...] = (64, 64), learning_rate: float = 0.1, seed: int = 0
) -> keras.Model:
    """The notebook MLP: Flatten 784 -> Dense 64 relu -> Dense 64 relu -> Dense 10 softmax,
    plain SGD (lr 0.1) on categorical cross-entropy."""
    return _mlp("notebook_mlp", hidden=hidden, l2=0.0, learning_rate=learning_rate, seed=seed)


def build_hinton_mlp(
    *,
    l2: float = 1e-4,
    hidden: tuple[int, ...] = (500, 300),
    learning_rate: float = 0.1,
    seed: int = 0,
) -> keras.Model:
    """Hinton's 784-500-300-10 MLP with L2 weight decay `l2` on the hidden layers' kernels.

    Keras adds l2 * sum(w**2) per hidden kernel to the loss, so SGD shrinks
    each weight by 2 * lr * l2 * w per step: weight decay.
    """
    return _mlp("hinton_mlp", hidden=hidden, l2=l2, learning_rate=learning_rate, seed=seed)


def _mlp(name: str, *, hidden, l2: float, learning_rate: float, seed: int) -> keras.Model:
    seeds = _Seeds(seed)
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=INPUT_SHAPE, name="image"))
    model.add(layers.Flatten(name="flatten"))
    for i, units in enumerate(hidden, start=1):
        model.add(
            layers.Dense(
                units,
                activation="relu",
                kernel_initializer=seeds.glorot(),
                kernel_regularizer=regularizer,
                name=f"hidden{i}",
            )
        )
    model.add(
        layers.Dense(
            NUM_CLASSES, activation="softmax", kernel_initializer=seeds.glorot(), name="output"
        )
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def build_hinton_variant(
    *,
    l2: float = 1e-4,
    hidden: tuple[int, ...] = (500, 300),
    learning_rate: float = 0.1,
    momentum: float = 0.0,
    decay_steps: int = 0,
    dropout: float = 0.0,
    seed: int = 0,
) -> keras.Model:
    """Hinton's 784-500-300-10 MLP under a changed training protocol (question 2e).

    With the defaults it is `build_hinton_mlp` exactly (same layers, same initial
    weights for a seed). `momentum` > 0 uses SGD with momentum; `decay_steps` > 0
    decays the learning rate to 0 along a cosine over that many steps; `dropout` > 0
    drops that fraction of each hidden layer's outputs while training.
    """
    seeds = _Seeds(seed)
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    model = keras.Sequential(name="hinton_variant")
    model.add(keras.Input(shape=INPUT_SHAPE, name="image"))
    model.add(layers.Flatten(name="flatten"))
    for i, units in enumerate(hidden, start=1):
        model.add(layers.Dense(units, activation="relu", kernel_initializer=seeds.glorot(),
                               kernel_regularizer=regularizer, name=f"hidden{i}"))  # fmt: skip
        if dropout > 0:
            model.add(layers.Dropout(dropout, seed=seed * 1000 + 100 + i, name=f"dropout{i}"))
    model.add(
        layers.Dense(
            NUM_CLASSES, activation="softmax", kernel_initializer=seeds.glorot(), name="output"
        )
    )
    rate = learning_rate
    if decay_steps > 0:
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=decay_steps)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=rate, momentum=momentum),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def build_cnn(
    *,
    filters: tuple[int, int] = (32, 64),
    dense_units: int = 128,
    dropout: float = 0.4,
    learning_rate: float = 2e-3,
    decay_steps: int = 5000,
    seed: int = 0,
) -> keras.Model:
    """The question-3 CNN: two conv blocks (3x3 conv, batch norm, relu, 2x2 max-pool),
    then dropout, a dense layer and softmax; Adam with a cosine-decayed learning rate.

    What makes it good, cheaply: convolutions share weights across positions
    (a stroke detector works anywhere in the image); batch norm lets Adam take
    large steps early; dropout before the dense layers curbs over-fitting; the
    cosine decay ends training with small steps, which settles the last
    tenths of a percent. `decay_steps` should be the number of training steps.
    """
    seeds = _Seeds(seed)
    model = keras.Sequential(name="cnn")
    model.add(keras.Input(shape=INPUT_SHAPE, name="image"))
    model.add(layers.Reshape((*INPUT_SHAPE, 1), name="channel"))
    for i, width in enumerate(filters, start=1):
        model.add(
            layers.Conv2D(
                width,
                3,
                padding="same",
                use_bias=False,
                kernel_initializer=seeds.he(),
                name=f"conv{i}",
            )
        )
        model.add(layers.BatchNormalization(name=f"bn{i}"))
        model.add(layers.Activation("relu", name=f"relu{i}"))
        model.add(layers.MaxPooling2D(2, name=f"pool{i}"))
    model.add(layers.Flatten(name="flatten"))
    model.add(layers.Dropout(dropout, seed=seed, name="dropout1"))
    model.add(
        layers.Dense(dense_units, activation="relu", kernel_initializer=seeds.he(), name="dense")
    )
    model.add(layers.Dropout(dropout, seed=seed + 1, name="dropout2"))
    model.add(
        layers.Dense(
            NUM_CLASSES, activation="softmax", kernel_initializer=seeds.glorot(), name="output"
        )
    )
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=decay_steps)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=schedule),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def build_autoencoder(
    *,
    hidden: tuple[int, int, int] = (128, 96, 128),
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> keras.Model:
    """The denoising autoencoder: 784 -> 128 relu -> 96 relu -> 128 relu -> 784 sigmoid,
    Adam on binary cross-entropy.

    Built as two models, `encoder` (784 -> 96) and `decoder` (96 -> 784), composed
    into the autoencoder, so both halves share its weights and can be used alone
    (`model.get_layer("encoder")`). The sigmoid keeps outputs in [0, 1], the range
    of the clean pixel intensities they reconstruct.
    """
    seeds = _Seeds(seed)
    first, code, third = hidden
    side = INPUT_SHAPE[0] * INPUT_SHAPE[1]

    def dense(units, activation, name):
        return layers.Dense(units, activation=activation, kernel_initializer=seeds.glorot(),
                            name=name)  # fmt: skip

    noisy = keras.Input(shape=(side,), name="noisy_image")
    hidden1 = dense(first, "relu", "encode1")(noisy)
    encoder = keras.Model(noisy, dense(code, "relu", "code")(hidden1), name="encoder")
    code_in = keras.Input(shape=(code,), name="code_in")
    hidden3 = dense(third, "relu", "decode1")(code_in)
    decoder = keras.Model(code_in, dense(side, "sigmoid", "reconstruction")(hidden3),
                          name="decoder")  # fmt: skip
    model = keras.Model(noisy, decoder(encoder(noisy)), name="autoencoder")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="binary_crossentropy",
    )
    return model


def halves(autoencoder: keras.Model) -> tuple[keras.Model, keras.Model]:
    """The encoder and decoder of an autoencoder, sharing its weights."""
    return autoencoder.get_layer("encoder"), autoencoder.get_layer("decoder")


def describe_layers(model: keras.Model) -> list[dict]:
    """Each layer's name, kind, output shape, activation and parameter count, as data.
    Nested models (the autoencoder's halves) are listed layer by layer."""
    rows = []
    for part, layer in _flat_layers(model):
        activation = getattr(layer, "activation", None)
        rows.append(
            {
                "name": layer.name,
                "kind": type(layer).__name__,
                "output_shape": list(layer.output.shape[1:]),
                "units": getattr(layer, "units", None),
                "activation": getattr(activation, "__name__", None),
                "filters": getattr(layer, "filters", None),
                "kernel_size": list(getattr(layer, "kernel_size", None) or []) or None,
                "pool_size": list(getattr(layer, "pool_size", None) or []) or None,
                "rate": getattr(layer, "rate", None),
                "params": int(layer.count_params()),
                "part": part,
            }
        )
    return rows


def _flat_layers(model: keras.Model) -> list:
    """(part, layer) pairs, where part names the nested model a layer belongs to."""
    flat = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            inner = [x for x in layer.layers if not isinstance(x, layers.InputLayer)]
            flat.extend((layer.name, x) for x in inner)
        else:
            flat.append((model.name, layer))
    return flat


def _layer_macs(model: keras.Model) -> list[int]:
    """Each dense or convolution layer's multiply-adds per sample, input to output,
    from the layers' shapes (the other layers' work is small next to these)."""
    macs = []
    for _, layer in _flat_layers(model):
        if isinstance(layer, layers.Dense):
            macs.append(int(layer.kernel.shape[0]) * layer.units)
        elif isinstance(layer, layers.Conv2D):
            height, width = layer.output.shape[1:3]
            k_h, k_w, c_in, c_out = layer.kernel.shape
            macs.append(int(height * width * k_h * k_w * c_in * c_out))
    return macs


def training_flops(model: keras.Model) -> int:
    """FLOPs to train on one sample, two per multiply-add: per layer its forward
    product, its weights' gradient and its input's gradient, except the first
    layer's input gradient, which nothing needs (its input is the data). Three
    forward passes would overstate a Hinton MLP's step by a third."""
    macs = _layer_macs(model)
    return 2 * (3 * sum(macs) - macs[0])
