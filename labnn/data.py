"""MNIST: find it, verify it byte for byte, pre-process it, add noise.

This is the only module that opens MNIST files. Every source (a folder of IDX
files, a Keras ``mnist.npz``, a download) is checked against the SHA-256 of the
four original IDX files, so a loaded ``Mnist`` is the published data set or an
error, never something in between.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import struct
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labnn.errors import DataError

NUM_CLASSES = 10
IMAGE_SIDE = 28
PARTS = ("x_train", "y_train", "x_test", "y_test")

# part -> (file name, SHA-256 of the uncompressed bytes); ../shared/data/mnist/README.md
IDX_FILES = {
    "x_train": (
        "train-images-idx3-ubyte",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "y_train": (
        "train-labels-idx1-ubyte",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "x_test": (
        "t10k-images-idx3-ubyte",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "y_test": (
        "t10k-labels-idx1-ubyte",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}
SHAPES = {
    "x_train": (60000, IMAGE_SIDE, IMAGE_SIDE),
    "y_train": (60000,),
    "x_test": (10000, IMAGE_SIDE, IMAGE_SIDE),
    "y_test": (10000,),
}
# IDX magic: two zero bytes, type 0x08 (unsigned byte), then the number of dimensions.
MAGIC = {"x_train": 0x00000803, "y_train": 0x00000801, "x_test": 0x00000803, "y_test": 0x00000801}

# What keras.datasets.mnist.load_data() downloads, with its published SHA-256.
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
NPZ_NAME = "mnist.npz"

FIX_HINT = (
    "Put the four original IDX files (gzipped or raw) or a Keras mnist.npz in a folder and "
    "pass it with --data-dir or LABNN_DATA_DIR."
)


@dataclass(frozen=True, eq=False)
class Mnist:
    """The verified data set, as published: uint8 images and labels."""

    x_train: np.ndarray  # (60000, 28, 28) uint8
    y_train: np.ndarray  # (60000,) uint8
    x_test: np.ndarray  # (10000, 28, 28) uint8
    y_test: np.ndarray  # (10000,) uint8
    fingerprint: str  # hash of the verified bytes; keys the result store
    source: str = field(default="")  # where it was read from, for the report's appendix


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    download: bool = True,
    origin: str = KERAS_ORIGIN,
    npz_sha256: str = KERAS_NPZ_SHA256,
) -> Mnist:
    """Load MNIST from the first source that has it, verified byte for byte.

    Sources, in order: ``data_dir`` (else ``LABNN_DATA_DIR``) holding the four
    IDX files or ``mnist.npz``; the Keras cache ``<cache_dir>/mnist.npz``
    (default ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``); a download
    from ``origin`` checked against ``npz_sha256`` and then kept in the cache.

    Raises:
        DataError: a file is corrupt, truncated or not MNIST (naming it), or
            no source has the data (listing every place looked).
    """
    explicit, how = _explicit_dir(data_dir)
    if explicit is not None:
        return _load_explicit_dir(explicit, how)
    looked = ["--data-dir / LABNN_DATA_DIR (unset)"]
    cache = Path(cache_dir) if cache_dir is not None else keras_cache_dir()
    cached = cache / NPZ_NAME
    if cached.exists():
        return _load_npz(cached)
    looked.append(f"the Keras cache {cached} (no such file)")
    if not download:
        looked.append("download (disabled)")
        raise _not_found(looked)
    try:
        return _download_to_cache(cache, origin=origin, npz_sha256=npz_sha256)
    except DataError as error:
        looked.append(f"download from {origin} ({error})")
        raise _not_found(looked) from None


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded data sets (its own rule: $KERAS_HOME or ~/.keras)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def _explicit_dir(data_dir) -> tuple[Path | None, str]:
    if data_dir is not None:
        return Path(data_dir), "--data-dir"
    env = os.environ.get("LABNN_DATA_DIR")
    if env:
        return Path(env), "LABNN_DATA_DIR"
    return None, ""


def check_data_dir(folder: str | os.PathLike, *, how: str):
    """A DataError unless `folder` (named by `how`: --data-dir or LABNN_DATA_DIR) is a folder.

    A folder the user named is the only source used: silently falling back to
    another one would hide a typo in the path.
    """
    folder = Path(folder)
    if folder.is_dir():
        return
    # How to stop naming a folder differs for a flag and an environment variable.
    drop = "leave out --data-dir" if how == "--data-dir" else f"unset {how}"
    state = "is a file, not a folder" if folder.exists() else "does not exist"
    hint = " (name the folder that holds it)" if folder.exists() else ""
    raise DataError(
        f"MNIST folder {folder} (from {how}) {state}{hint}. "
        f"Fix the path, or {drop} to use the Keras cache or download."
    )


def _load_explicit_dir(folder: Path, how: str) -> Mnist:
    check_data_dir(folder, how=how)
    found = {part: _find_idx(folder, name) for part, (name, _) in IDX_FILES.items()}
    present = [part for part, path in found.items() if path is not None]
    if len(present) == len(PARTS):
        return _load_idx_files(found)
    if (folder / NPZ_NAME).exists() and not present:
        return _load_npz(folder / NPZ_NAME, fix=NAMED_FOLDER_FIX)
    if present:
        missing = [IDX_FILES[p][0] for p in PARTS if found[p] is None]
        raise DataError(
            f"MNIST folder {folder} (from {how}) is incomplete: missing {', '.join(missing)} "
            "(or its .gz). Copy the missing files there."
        )
    expected = ", ".join(name + "[.gz]" for name, _ in IDX_FILES.values())
    raise DataError(
        f"MNIST not found in {folder} (from {how}): expected {expected}, or {NPZ_NAME}. " + FIX_HINT
    )


def _find_idx(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _not_found(looked: list[str]) -> DataError:
    places = "; ".join(looked)
    return DataError(f"MNIST not found. Looked in: {places}. {FIX_HINT}")


def _load_idx_files(paths: dict[str, Path]) -> Mnist:
    arrays, digests = {}, []
    for part in PARTS:
        raw = _read_bytes(paths[part])
        arrays[part] = parse_idx(raw, part=part, origin=str(paths[part]))
        digests.append(IDX_FILES[part][1])
    folder = paths["x_train"].parent
    return Mnist(**arrays, fingerprint=_fingerprint(digests), source=f"IDX files in {folder}")


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(
            f"{path}: not a valid gzip file ({error}); it is corrupt or truncated. "
            "Replace it with a fresh copy of the original file."
        ) from None


def parse_idx(raw: bytes, *, part: str, origin: str) -> np.ndarray:
    """Decode the IDX bytes of one MNIST part, checking magic, shape, size and SHA-256.

    Raises:
        DataError: naming ``origin`` and what is wrong with it.
    """
    expected_magic = MAGIC[part]
    kind = "image" if part.startswith("x") else "label"
    fix = "Replace it with a fresh copy of the original MNIST file."
    if len(raw) < 4 or int.from_bytes(raw[:4], "big") != expected_magic:
        got = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
        got_text = f"0x{got:08x}" if got is not None else f"only {len(raw)} bytes"
        raise DataError(
            f"{origin}: IDX magic number is {got_text}, expected 0x{expected_magic:08x} "
            f"(MNIST {kind} file). {fix}"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{origin}: truncated inside its IDX header. {fix}")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    if shape != SHAPES[part]:
        raise DataError(f"{origin}: IDX shape is {shape}, expected {SHAPES[part]}. {fix}")
    expected_size = header + int(np.prod(shape))
    if len(raw) != expected_size:
        state = "truncated" if len(raw) < expected_size else "too long"
        raise DataError(
            f"{origin}: {state}: holds {len(raw)} bytes, its header promises {expected_size}. {fix}"
        )
    digest = hashlib.sha256(raw).hexdigest()
    if digest != IDX_FILES[part][1]:
        raise DataError(
            f"{origin}: SHA-256 {digest} does not match the published {IDX_FILES[part][1]}; "
            f"the file is corrupt or not MNIST. {fix}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def to_idx_bytes(array: np.ndarray) -> bytes:
    """Serialise a uint8 array as IDX, exactly as the original files are laid out."""
    magic = 0x00000800 | array.ndim
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes()


# What to do about a bad mnist.npz in the Keras cache, where labnn downloads; a folder the
# user named gets its own advice (nothing is downloaded there).
CACHE_FIX = "Delete it so that it can be downloaded again, or replace it."
NAMED_FOLDER_FIX = (
    "Replace it with a fresh copy of Keras's mnist.npz, or put the four original IDX files "
    "(gzipped or raw) there in its place."
)


def _load_npz(path: Path, *, fix: str = CACHE_FIX) -> Mnist:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {part: np.ascontiguousarray(npz[part]) for part in PARTS}
    except KeyError as error:
        raise DataError(f"{path}: not a Keras MNIST npz, missing array {error}. {fix}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(
            f"{path}: unreadable npz ({error}); it is corrupt or truncated. {fix}"
        ) from None
    return _verify_arrays(arrays, origin=str(path))


def verify_mnist(mnist: Mnist, *, origin: str) -> Mnist:
    """`mnist` checked byte for byte again (e.g. after it crossed the network)."""
    return _verify_arrays({part: getattr(mnist, part) for part in PARTS}, origin=origin)


def _verify_arrays(arrays: dict[str, np.ndarray], *, origin: str) -> Mnist:
    # Arrays from an npz are checked by turning them back into IDX bytes: the
    # same SHA-256 then proves they are the published data, whatever the container.
    digests = []
    for part in PARTS:
        array = arrays[part]
        where = f"{origin} [{part}]"
        if array.dtype != np.uint8 or array.shape != SHAPES[part]:
            raise DataError(
                f"{where}: {array.dtype} array of shape {array.shape}, "
                f"expected uint8 of shape {SHAPES[part]}; this is not MNIST."
            )
        if part.startswith("y") and array.max() >= NUM_CLASSES:
            raise DataError(f"{where}: label {int(array.max())} outside 0-9; this is not MNIST.")
        parse_idx(to_idx_bytes(array), part=part, origin=where)
        digests.append(IDX_FILES[part][1])
    return Mnist(**arrays, fingerprint=_fingerprint(digests), source=str(origin))


def _fingerprint(digests: list[str]) -> str:
    return hashlib.sha256("".join(digests).encode()).hexdigest()[:16]


def _download_to_cache(cache: Path, *, origin: str, npz_sha256: str) -> Mnist:
    """Download into a temporary folder, verify, and only then move into the cache."""
    import keras  # imported here: loading a backend takes seconds and most loads never download

    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
        try:
            # Keras reports download progress on stdout, which the CLI keeps for its results.
            with contextlib.redirect_stdout(sys.stderr):
                fetched = keras.utils.get_file(
                    NPZ_NAME, origin, file_hash=npz_sha256, cache_dir=tmp, cache_subdir=""
                )
        except Exception as error:  # urllib, HTTP and checksum failures all land here
            raise DataError(f"failed: {error}") from None
        mnist = _load_npz(Path(fetched))
        os.replace(fetched, cache / NPZ_NAME)
    return Mnist(
        **{p: getattr(mnist, p) for p in PARTS},
        fingerprint=mnist.fingerprint,
        source=f"{cache / NPZ_NAME} (downloaded from {origin})",
    )


def subset(mnist: Mnist, *, n_train: int | None = None, n_test: int | None = None) -> Mnist:
    """The first ``n_train`` training and ``n_test`` test examples (None keeps all).

    A fixed prefix, not a random sample, so a profile's data are the same on every machine.
    """
    for name, n, total in (("n_train", n_train, 60000), ("n_test", n_test, 10000)):
        if n is not None and not 1 <= n <= total:
            raise ValueError(f"{name} must be between 1 and {total}, got {n}")
    return Mnist(
        x_train=mnist.x_train[:n_train],
        y_train=mnist.y_train[:n_train],
        x_test=mnist.x_test[:n_test],
        y_test=mnist.y_test[:n_test],
        fingerprint=mnist.fingerprint,
        source=mnist.source,
    )


@dataclass(frozen=True, eq=False)
class Prepared:
    """Model-ready arrays: float32 pixels in [0, 1] and one-hot float32 labels."""

    x_train: np.ndarray  # (n, 28, 28) or (n, 784) float32
    y_train: np.ndarray  # (n, 10) float32, one-hot
    x_test: np.ndarray
    y_test: np.ndarray
    labels_train: np.ndarray  # (n,) uint8, the digits themselves
    labels_test: np.ndarray


# Bytes: TensorFlow's own kernels read memory in place only at this alignment.
ALIGNMENT = 64


def aligned_empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised array whose data starts on an ALIGNMENT boundary (numpy's
    start on 16 bytes), so the training loops can read it without a copy
    (`labnn.engine.tf_loop.resident`); row slices of 784 floats stay aligned."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buffer = np.empty(size + ALIGNMENT, np.uint8)
    start = -buffer.ctypes.data % ALIGNMENT
    return buffer[start : start + size].view(dtype).reshape(shape)


def scale_pixels(images: np.ndarray) -> np.ndarray:
    """uint8 0-255 -> float32 0-1: inputs of order one keep the first layer's
    pre-activations small, so SGD with lr 0.1 neither saturates nor explodes."""
    scaled = aligned_empty(images.shape, np.float32)
    return np.divide(images, np.float32(255.0), out=scaled, dtype=np.float32)


def one_hot(labels: np.ndarray) -> np.ndarray:
    """Digit labels -> (n, 10) float32 rows with a single 1: the target
    distribution that categorical cross-entropy compares the softmax with."""
    return np.eye(NUM_CLASSES, dtype=np.float32)[labels]


# The data recipe: `subset`, `preprocess` and `holdout`. Every run's store key holds
# it; bump it when an edit changes the arrays they produce (tests/test_golden.py).
RECIPE_VERSION = 1


def preprocess(mnist: Mnist, *, flatten: bool = False) -> Prepared:
    """Scale pixels to [0, 1] and one-hot the labels; ``flatten`` gives (n, 784) rows."""

    def images(x):
        scaled = scale_pixels(x)
        return scaled.reshape(len(x), -1) if flatten else scaled

    return Prepared(
        x_train=images(mnist.x_train),
        y_train=one_hot(mnist.y_train),
        x_test=images(mnist.x_test),
        y_test=one_hot(mnist.y_test),
        labels_train=mnist.y_train,
        labels_test=mnist.y_test,
    )


def preprocessing_facts(mnist: Mnist) -> dict:
    """What question 1 reports, measured on the arrays before and after pre-processing."""
    prepared = preprocess(mnist)
    flat = preprocess(subset(mnist, n_train=1, n_test=1), flatten=True)
    return {
        "raw": {
            "x_train_shape": list(mnist.x_train.shape),
            "x_test_shape": list(mnist.x_test.shape),
            "y_train_shape": list(mnist.y_train.shape),
            "dtype": str(mnist.x_train.dtype),
            "min": int(mnist.x_train.min()),
            "max": int(mnist.x_train.max()),
            "mean": float(mnist.x_train.mean(dtype=np.float64)),
            "std": float(mnist.x_train.std(dtype=np.float64)),
            "label_dtype": str(mnist.y_train.dtype),
        },
        "prepared": {
            "x_train_shape": list(prepared.x_train.shape),
            "flat_shape": [len(mnist.x_train), int(flat.x_train.shape[1])],
            "y_train_shape": list(prepared.y_train.shape),
            "dtype": str(prepared.x_train.dtype),
            "min": float(prepared.x_train.min()),
            "max": float(prepared.x_train.max()),
            "mean": float(prepared.x_train.mean(dtype=np.float64)),
            "std": float(prepared.x_train.std(dtype=np.float64)),
            "label_dtype": str(prepared.y_train.dtype),
            "one_hot_example": {
                "label": int(mnist.y_train[0]),
                "row": [int(v) for v in prepared.y_train[0]],
            },
        },
        "class_counts_train": np.bincount(mnist.y_train, minlength=NUM_CLASSES).tolist(),
        "class_counts_test": np.bincount(mnist.y_test, minlength=NUM_CLASSES).tolist(),
        "zero_pixel_share": float((mnist.x_train == 0).mean()),
    }


# `salt_and_pepper`'s version, in the key of every run or result that draws noise
# (the autoencoder's noisy inputs, question 4's noise evaluation); bump it when an
# edit changes the noise drawn for a seed (tests/test_golden.py).
NOISE_VERSION = 1


def salt_and_pepper(x: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """Salt-and-pepper noise: each pixel is kept with probability 1 - level and
    otherwise set to 0 or 1 with equal chance.

    Args:
        x: pixels in [0, 1], any shape.
        level: the probability that a pixel is replaced, in [0, 1].
        rng: the generator to draw from (seeded by the caller).

    Raises:
        ValueError: level outside [0, 1], or pixels outside [0, 1].
    """
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"noise level must be in [0, 1], got {level}")
    return _replace_pixels(_pixels(x, "salt_and_pepper"), level, rng)


def salt_and_pepper_mixed(
    x: np.ndarray, rng: np.random.Generator, *, clean_share: float = 0.5
) -> np.ndarray:
    """Salt-and-pepper noise at a level of its own for each image: training data for a
    reader meant to work at every level. A share `clean_share` of the images stays
    clean; the others get a level drawn uniformly from [0, 1].

    Args:
        x: (n, ...) images with pixels in [0, 1].
        rng: the generator to draw from (seeded by the caller).
        clean_share: the expected fraction of images left clean, in [0, 1].
    """
    if not 0.0 <= clean_share <= 1.0:
        raise ValueError(f"clean_share must be in [0, 1], got {clean_share}")
    x = _pixels(x, "salt_and_pepper_mixed")
    levels = np.where(rng.random(len(x)) < clean_share, 0.0, rng.random(len(x)))
    return _replace_pixels(x, levels.reshape(-1, *([1] * (x.ndim - 1))), rng)  # (n, 1, ...)


def _pixels(x, caller: str) -> np.ndarray:
    """`x` as an array, checked to hold pixels in [0, 1]."""
    x = np.asarray(x)
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError(
            f"{caller} expects pixels in [0, 1], got [{x.min()}, {x.max()}]; "
            "scale uint8 images with labnn.data.scale_pixels first"
        )
    return x


def _replace_pixels(x: np.ndarray, level, rng: np.random.Generator) -> np.ndarray:
    """Each pixel replaced with probability `level` (a number, or one per image shaped to
    broadcast), by 0 or 1 with equal chance."""
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32
    # One uniform draw decides both: u < level replaces the pixel, and of those,
    # u < level / 2 (half of them) become salt.
    u = rng.random(x.shape, dtype=np.float32 if dtype == np.float32 else np.float64)
    salt = (u < level / 2).astype(dtype)
    return np.where(u < level, salt, x.astype(dtype, copy=False))


@dataclass(frozen=True, eq=False)
class Split:
    """Training data and the held-out validation data that model selection may look at."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def holdout(prepared: Prepared, *, validation_size: int) -> Split:
    """Hold out the last `validation_size` training examples for validation.

    Choices (an L2 factor, a variant) are made on this split, so the test set
    only ever produces final numbers.
    """
    n = len(prepared.x_train)
    if not 0 < validation_size < n:
        raise ValueError(f"validation_size must be between 1 and {n - 1}, got {validation_size}")
    cut = n - validation_size
    return Split(
        x_train=prepared.x_train[:cut],
        y_train=prepared.y_train[:cut],
        x_val=prepared.x_train[cut:],
        y_val=prepared.y_train[cut:],
    )
