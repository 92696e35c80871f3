"""The training path on Keras's JAX backend: an epoch is one compiled call, and runs of one
shape train together as one vmapped stack.

Why: at these sizes `fit` leaves an accelerator waiting on the host between small steps
(on an H200 labnn trained 137-174 k samples per second through `fit`, where a plain JAX
program of the 2d sweep trained 12.5 M). Here the training data goes to the device once per
run, each epoch is a `lax.scan` over its batches' indices inside one jitted call, and R runs
that differ only in their seed and L2 factor are one program over R stacked weight sets
(`jax.vmap`): R times the work per call, no more calls.

Through Keras 3 where it can: each replica is the Keras model run by `stateless_call` with
that replica's weights, non-trainable state (batch norm's statistics, dropout's seed
generators) and optimizer variables (`stateless_apply`: momentum, schedules, Adam). The L2
penalty alone is computed here, as factor x sum of squares of each regularized kernel with
the factor a per-replica argument, because Keras bakes a layer's factor into its regularizer.
The batch order is `labnn.engine.batches.epoch_order`, the TensorFlow paths' own, drawn on the host
(a few hundred kB per epoch): a run has the same batches on every path.
"""

from __future__ import annotations

import time

import keras
import numpy as np

from labnn.data import Split
from labnn.engine.batches import epoch_order, full_batches
from labnn.training import ProgressFn, TrainResult, stack_results


def stack_problem(models: list[keras.Model]) -> str | None:
    """Why `models` cannot train as one stack, or None: they must be one architecture and
    compile config, with no losses but their loss and L2 penalties on kernels."""
    first = models[0]
    for model in models:
        if model.optimizer is None or not model.get_compile_config():
            return f"{model.name} is not compiled"
        if _architecture(model) != _architecture(first):
            return f"{model.name} has another architecture than {first.name}"
        if type(model.optimizer) is not type(first.optimizer) or _optimizer(model) != _optimizer(
            first
        ):
            return f"{model.name} has another optimizer than {first.name}"
        for layer in _layers(model):
            if getattr(layer, "activity_regularizer", None) is not None or (
                getattr(layer, "bias_regularizer", None) is not None
                or getattr(layer, "kernel_regularizer", None) is not None
                and type(layer.kernel_regularizer) is not keras.regularizers.L2
            ):
                return f"{model.name}: only L2 penalties on kernels can be stacked"
        if len(model.losses) != sum(factor > 0 for factor in _l2_factors(model)):
            return f"{model.name} has losses other than L2 penalties on kernels"
    return None


def train_stack(
    models: list[keras.Model],
    data: Split,
    *,
    epochs: int,
    batch_size: int,
    seeds: list[int],
    initial_epoch: int = 0,
    progress: ProgressFn | None = None,
    label: str = "",
) -> list[TrainResult]:
    """Train `models` (built and compiled; `stack_problem` is None) together on `data`, in
    place, from `initial_epoch` to `epochs`, model r on the batch order of `seeds[r]`.

    Each model's history has Keras's meaning: per epoch, the mean over batches of its loss
    (with its L2 penalty) and, where compiled with it, accuracy; both on the validation data
    after the epoch. Times are each model's share of the stack's.
    """
    import jax

    problem = stack_problem(models)
    if problem:
        raise ValueError(f"cannot stack these runs: {problem}")
    stack = _Stack(models)
    x, y = jax.device_put(np.asarray(data.x_train, np.float32)), jax.device_put(data.y_train)
    n, count = len(data.x_train), len(models)
    history = {name: [[] for _ in models] for name in stack.metric_names(bool(len(data.x_val)))}
    seconds, start = [], time.perf_counter()
    for epoch in range(initial_epoch, epochs):
        orders = [full_batches(epoch_order(seed, epoch, n), batch_size) for seed in seeds]
        began = time.perf_counter()
        loss_sum, hits = stack.epoch(x, y, np.stack([o[0] for o in orders]),
                                     np.stack([o[1] for o in orders]))  # fmt: skip
        seconds.append(time.perf_counter() - began)
        logs = {"loss": loss_sum / n, "accuracy": hits / n}
        if len(data.x_val):
            logs["val_loss"], logs["val_accuracy"] = stack.evaluate(data.x_val, data.y_val)
        for name in history:
            for r in range(count):
                history[name][r].append(float(logs[name][r]))
        if progress is not None:
            means = {name: float(np.mean(logs[name])) for name in history}
            progress(label, epoch + 1, epochs, means, time.perf_counter() - start)
    stack.write_back(models)
    histories = [{name: values[r] for name, values in history.items()} for r in range(count)]
    return stack_results(histories, seconds, time.perf_counter() - start, n)


class _Stack:
    """R models' state, stacked along a leading axis, and the compiled epoch over it."""

    def __init__(self, models: list[keras.Model]):
        import jax.numpy as jnp

        self.template = models[0]
        for model in models:
            if not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
        config = self.template.get_compile_config()
        self.loss = keras.losses.get(config["loss"])
        self.accuracy = "accuracy" in (config.get("metrics") or [])

        def stacked(of):
            per_model = [of(model) for model in models]
            return [jnp.stack([np.asarray(v.value) for v in same])
                    for same in zip(*per_model, strict=True)]  # fmt: skip

        # (trainable, non-trainable, optimizer variables), a pytree that jit and vmap take
        self.state = (
            stacked(lambda m: m.trainable_variables),
            stacked(lambda m: m.non_trainable_variables),
            stacked(lambda m: m.optimizer.variables),
        )
        # Per replica and trainable variable: its L2 factor, 0 where it has none.
        self.l2 = jnp.asarray([_l2_factors(m) for m in models], jnp.float32)
        self._compiled = _compiled(self.template, self.loss, self.accuracy)

    def metric_names(self, validation: bool) -> list[str]:
        names = ["loss"] + ["accuracy"] * self.accuracy
        return names + [f"val_{name}" for name in names] * validation

    def epoch(self, x, y, index: np.ndarray, tail: np.ndarray):
        """One epoch over the batches `index` (R, steps, batch), then the smaller last batches
        `tail` (R, rest) where there are any: per replica, the sum of batch losses x sizes,
        and hits."""
        self.state, loss_sum, hits = self._compiled["epoch"](self.state, self.l2, x, y, index)
        if tail.shape[1]:
            self.state, tail_loss, tail_hits = self._compiled["epoch"](
                self.state, self.l2, x, y, tail[:, None, :]
            )
            loss_sum, hits = loss_sum + tail_loss, hits + tail_hits
        return np.asarray(loss_sum), np.asarray(hits)

    def evaluate(self, x: np.ndarray, y: np.ndarray, chunk: int = 2000):
        """Per replica (loss, accuracy) on (x, one-hot y), as Keras's `evaluate` reports."""
        losses, hits = 0.0, 0.0
        for begin in range(0, len(x), chunk):
            part = slice(begin, begin + chunk)
            loss, right = self._compiled["scores"](self.state, self.l2, x[part], y[part])
            losses = losses + np.asarray(loss) * len(x[part])
            hits = hits + np.asarray(right)
        return losses / len(x), hits / len(x)

    def write_back(self, models: list[keras.Model]):
        for r, model in enumerate(models):
            owned = (model.trainable_variables, model.non_trainable_variables,
                     model.optimizer.variables)  # fmt: skip
            for variables, values in zip(owned, self.state, strict=True):
                for variable, value in zip(variables, values, strict=True):
                    variable.assign(value[r])


# Compiled once per process and model shape: every stack of the same architecture,
# optimizer settings and loss reuses the first one's traces (a trace took 8-13 s on 2
# cores; the tests and benchmarks build many stacks of one shape). The first model of each
# shape stays referenced here, as its trace calls it.
_COMPILED: dict[str, dict] = {}


def _compiled(template: keras.Model, loss_fn, accuracy: bool) -> dict:
    """The jitted, vmapped epoch and scores of models shaped as `template`."""
    loss = template.get_compile_config().get("loss")
    optimizer = (type(template.optimizer).__name__, _optimizer(template))
    shape = repr((_architecture(template), optimizer, loss, accuracy))
    if shape not in _COMPILED:
        _COMPILED[shape] = _compile(template, loss_fn, accuracy)
    return _COMPILED[shape]


def _compile(template: keras.Model, loss_fn, accuracy: bool) -> dict:
    import jax
    import jax.numpy as jnp

    optimizer = template.optimizer

    def penalty(trainable, l2):
        return sum(factor * jnp.sum(jnp.square(w)) for w, factor in zip(trainable, l2, strict=True))

    def hits(predicted, y):
        if not accuracy:
            return jnp.float32(0.0)
        return jnp.sum(jnp.argmax(predicted, -1) == jnp.argmax(y, -1)).astype(jnp.float32)

    def step(carry, rows, l2, x, y):
        (trainable, non_trainable, optimizer_vars), loss_sum, right = carry
        x_batch, y_batch = x[rows], y[rows]

        def loss_of(trainable):
            predicted, moved = template.stateless_call(
                trainable, non_trainable, x_batch, training=True
            )
            loss = jnp.mean(loss_fn(y_batch, predicted)) + penalty(trainable, l2)
            return loss, (predicted, moved)

        (loss, (predicted, non_trainable)), grads = jax.value_and_grad(loss_of, has_aux=True)(
            trainable
        )
        trainable, optimizer_vars = optimizer.stateless_apply(optimizer_vars, grads, trainable)
        state = (list(trainable), list(non_trainable), list(optimizer_vars))
        size = rows.shape[0]
        return (state, loss_sum + loss * size, right + hits(predicted, y_batch)), None

    def epoch(state, l2, x, y, index):  # one replica; index (steps, batch)
        zero = jnp.float32(0.0)
        (state, loss_sum, right), _ = jax.lax.scan(
            lambda carry, rows: step(carry, rows, l2, x, y), (state, zero, zero), index
        )
        return state, loss_sum, right

    def scores(state, l2, x, y):  # one replica, one chunk
        trainable, non_trainable, _ = state
        predicted, _ = template.stateless_call(trainable, non_trainable, x, training=False)
        loss = jnp.mean(loss_fn(y, predicted)) + penalty(trainable, l2)
        return loss, hits(predicted, y)

    return {
        "epoch": jax.jit(jax.vmap(epoch, in_axes=(0, 0, None, None, 0)), donate_argnums=0),
        "scores": jax.jit(jax.vmap(scores, in_axes=(0, 0, None, None))),
    }


def _l2_factors(model: keras.Model) -> list[float]:
    """Per trainable variable of `model`, the factor of its L2 penalty (0 without one)."""
    factors = {}
    for layer in _layers(model):
        regularizer = getattr(layer, "kernel_regularizer", None)
        if isinstance(regularizer, keras.regularizers.L2):
            factors[id(layer.kernel)] = float(regularizer.l2)
    return [factors.get(id(v), 0.0) for v in model.trainable_variables]


def _architecture(model: keras.Model) -> list:
    """What must be equal for models to share one compiled program: layer types, shapes
    and configs, L2 factors aside (they are an argument)."""
    described = []
    for layer in _layers(model):
        config = dict(layer.get_config())
        for key in ("name", "kernel_regularizer", "seed", "kernel_initializer"):
            config.pop(key, None)
        described.append((type(layer).__name__, repr(sorted(config.items()))))
    return described


def _optimizer(model: keras.Model) -> str:
    config = dict(model.optimizer.get_config())
    config.pop("name", None)
    return repr(sorted(config.items()))


def _layers(model: keras.Model) -> list:
    flat = []
    for layer in model.layers:
        flat.extend(_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return flat
