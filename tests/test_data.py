"""labnn.data on the real MNIST files and on damaged copies of them."""

import gzip
import http.server
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from labnn.data import (
    IDX_FILES,
    load_mnist,
    one_hot,
    preprocess,
    preprocessing_facts,
    salt_and_pepper,
    salt_and_pepper_mixed,
    subset,
)
from labnn.errors import DataError

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]  # shared/data/mnist


@pytest.fixture
def copy_dir(data_dir, tmp_path):
    """A writable copy of the four gzipped IDX files, to damage."""
    target = tmp_path / "mnist"
    shutil.copytree(data_dir, target)
    return target


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("LABNN_DATA_DIR", raising=False)


def write_npz(path: Path, mnist, **replace):
    arrays = {p: getattr(mnist, p) for p in ("x_train", "y_train", "x_test", "y_test")}
    arrays.update(replace)
    np.savez_compressed(path, **arrays)
    return path


def test_real_mnist_has_published_shapes_and_label_counts(mnist):
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_train.dtype == np.uint8
    assert mnist.y_train.shape == (60000,) and mnist.y_train.dtype == np.uint8
    assert mnist.x_test.shape == (10000, 28, 28) and mnist.y_test.shape == (10000,)
    assert np.bincount(mnist.y_train).tolist() == TRAIN_COUNTS


def test_scaled_pixels_have_published_mean_and_std(mnist):
    facts = preprocessing_facts(mnist)
    assert facts["prepared"]["mean"] == pytest.approx(0.13066, abs=5e-6)
    assert facts["prepared"]["std"] == pytest.approx(0.30811, abs=5e-6)
    assert facts["raw"]["dtype"] == "uint8" and facts["raw"]["max"] == 255
    # Scaling by 1/255 scales the raw statistics the report shows beside them.
    assert facts["raw"]["mean"] == pytest.approx(255 * facts["prepared"]["mean"], rel=1e-6)
    assert facts["raw"]["std"] == pytest.approx(255 * facts["prepared"]["std"], rel=1e-6)
    assert facts["prepared"]["dtype"] == "float32" and facts["prepared"]["max"] == 1.0
    assert facts["class_counts_train"] == TRAIN_COUNTS


def test_preprocess_one_hots_labels_and_flattens_on_request(small):
    prepared = preprocess(small, flatten=True)
    assert prepared.x_train.shape == (512, 784) and prepared.x_train.dtype == np.float32
    assert prepared.y_train.shape == (512, 10)
    assert (prepared.y_train.argmax(axis=1) == small.y_train).all()
    assert (prepared.y_train.sum(axis=1) == 1).all()
    assert one_hot(np.array([3]))[0].tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]


def test_raw_idx_files_load_like_gzipped_ones(copy_dir, mnist):
    name = IDX_FILES["x_test"][0]
    gz = copy_dir / f"{name}.gz"
    (copy_dir / name).write_bytes(gzip.decompress(gz.read_bytes()))
    gz.unlink()
    loaded = load_mnist(copy_dir)
    assert loaded.fingerprint == mnist.fingerprint
    assert np.array_equal(loaded.x_test, mnist.x_test)


def test_data_dir_comes_from_environment(monkeypatch, data_dir, mnist):
    monkeypatch.setenv("LABNN_DATA_DIR", str(data_dir))
    assert load_mnist().fingerprint == mnist.fingerprint


def test_npz_source_loads_and_has_same_fingerprint(tmp_path, mnist):
    write_npz(tmp_path / "mnist.npz", mnist)
    loaded = load_mnist(tmp_path)
    assert loaded.fingerprint == mnist.fingerprint
    assert np.array_equal(loaded.y_train, mnist.y_train)


def test_flipped_byte_in_gzipped_labels_names_the_file(copy_dir):
    path = copy_dir / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist(copy_dir)


def test_changed_pixel_fails_the_checksum(copy_dir):
    name = IDX_FILES["x_test"][0]
    raw = bytearray(gzip.decompress((copy_dir / f"{name}.gz").read_bytes()))
    raw[5000] ^= 0x01
    (copy_dir / f"{name}.gz").unlink()
    (copy_dir / name).write_bytes(bytes(raw))
    with pytest.raises(DataError, match=f"{name}: SHA-256 .* does not match"):
        load_mnist(copy_dir)


def test_truncated_file_is_reported_as_truncated(copy_dir):
    name = IDX_FILES["y_train"][0]
    raw = gzip.decompress((copy_dir / f"{name}.gz").read_bytes())
    (copy_dir / f"{name}.gz").unlink()
    (copy_dir / name).write_bytes(raw[:-100])
    with pytest.raises(DataError, match=f"{name}: truncated"):
        load_mnist(copy_dir)


def test_truncated_gzip_is_reported(copy_dir):
    path = copy_dir / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: not a valid gzip"):
        load_mnist(copy_dir)


def test_swapped_files_fail_on_the_magic_number(copy_dir):
    labels = copy_dir / "t10k-labels-idx1-ubyte.gz"
    images = copy_dir / "t10k-images-idx3-ubyte.gz"
    shutil.copy(labels, images)
    with pytest.raises(
        DataError, match="t10k-images-idx3-ubyte.gz: IDX magic number is 0x00000801"
    ):
        load_mnist(copy_dir)


def test_incomplete_folder_names_the_missing_file(copy_dir):
    (copy_dir / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing train-labels-idx1-ubyte"):
        load_mnist(copy_dir)


def test_missing_folder_names_it_and_the_fix(tmp_path):
    with pytest.raises(DataError, match="does-not-exist .*does not exist.*--data-dir"):
        load_mnist(tmp_path / "does-not-exist")


def test_npz_with_wrong_labels_is_rejected(tmp_path, mnist):
    write_npz(tmp_path / "mnist.npz", mnist, y_test=(mnist.y_test + 1) % 10)
    with pytest.raises(DataError, match=r"mnist.npz \[y_test\]: SHA-256"):
        load_mnist(tmp_path)


def test_no_data_anywhere_lists_every_place_looked(tmp_path, no_env):
    with pytest.raises(DataError) as caught:
        load_mnist(cache_dir=tmp_path / "cache", download=False)
    message = str(caught.value)
    assert "LABNN_DATA_DIR (unset)" in message
    assert str(tmp_path / "cache" / "mnist.npz") in message
    assert "download (disabled)" in message
    error = caught.value  # one clean error: no chained traceback behind it
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


class _Server:
    """Serves one folder on 127.0.0.1 for the download tests."""

    def __init__(self, folder: Path):
        handler = lambda *a: http.server.SimpleHTTPRequestHandler(  # noqa: E731
            *a, directory=str(folder)
        )
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served_npz(tmp_path, mnist):
    folder = tmp_path / "served"
    folder.mkdir()
    path = write_npz(folder / "mnist.npz", mnist)
    server = _Server(folder)
    yield server.url + "/mnist.npz", path
    server.close()


def test_download_is_verified_and_kept_in_the_cache(tmp_path, no_env, served_npz, mnist):
    import hashlib

    url, path = served_npz
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    loaded = load_mnist(cache_dir=cache, origin=url, npz_sha256=sha)
    assert loaded.fingerprint == mnist.fingerprint
    assert (cache / "mnist.npz").read_bytes() == path.read_bytes()
    # The cached copy now serves a second load without any download.
    again = load_mnist(cache_dir=cache, download=False)
    assert again.fingerprint == mnist.fingerprint


def test_download_with_wrong_checksum_leaves_nothing_in_the_cache(tmp_path, no_env, served_npz):
    url, _ = served_npz
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="Looked in:.*download from http://127.0.0.1"):
        load_mnist(cache_dir=cache, origin=url, npz_sha256="0" * 64)
    assert list(cache.iterdir()) == []


def test_unreachable_download_lists_every_place_looked(tmp_path, no_env):
    with pytest.raises(
        DataError, match="Looked in:.*Keras cache.*download from http://127.0.0.1:9/"
    ):
        load_mnist(cache_dir=tmp_path, origin="http://127.0.0.1:9/mnist.npz")


def test_corrupt_cache_file_is_reported_and_kept(tmp_path, no_env):
    cached = tmp_path / "mnist.npz"
    cached.write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="mnist.npz: unreadable npz"):
        load_mnist(cache_dir=tmp_path, origin="http://127.0.0.1:9/mnist.npz")
    assert cached.read_bytes() == b"not a zip file"


def test_subset_takes_a_fixed_prefix(mnist):
    part = subset(mnist, n_train=100, n_test=10)
    assert np.array_equal(part.x_train, mnist.x_train[:100]) and len(part.y_test) == 10
    with pytest.raises(ValueError, match="n_train must be between 1 and 60000"):
        subset(mnist, n_train=0)


def test_noise_level_zero_is_the_identity(small):
    x = preprocess(small).x_test
    assert np.array_equal(salt_and_pepper(x, 0.0, np.random.default_rng(0)), x)


def test_noise_level_one_leaves_only_zeros_and_ones_about_half_each(small):
    noisy = salt_and_pepper(preprocess(small).x_test, 1.0, np.random.default_rng(0))
    assert set(np.unique(noisy)) == {0.0, 1.0}
    assert noisy.mean() == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("level", [0.1, 0.3, 0.7])
def test_fraction_changed_matches_level_times_pixels_that_differ(small, level):
    x = preprocess(small).x_test
    noisy = salt_and_pepper(x, level, np.random.default_rng(1))
    # A replaced pixel changes unless its replacement equals it: a 0 pixel only
    # changes on salt (1), a 1 pixel only on pepper (0), anything else always.
    change_if_replaced = np.where((x == 0) | (x == 1), 0.5, 1.0).mean()
    assert (noisy != x).mean() == pytest.approx(level * change_if_replaced, rel=0.03)
    assert noisy.dtype == np.float32


def test_noise_rejects_bad_level_and_unscaled_pixels(small):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="noise level must be in"):
        salt_and_pepper(preprocess(small).x_test, 1.5, rng)
    with pytest.raises(ValueError, match="scale uint8 images"):
        salt_and_pepper(small.x_test, 0.1, rng)


def test_mixed_noise_leaves_about_half_the_images_clean_and_noises_the_rest(small):
    x = preprocess(small).x_train  # (512, 28, 28)
    noisy = salt_and_pepper_mixed(x, np.random.default_rng(0), clean_share=0.5)
    changed = (noisy != x).mean(axis=(1, 2))  # the share of pixels each image lost
    assert 0.4 < (changed == 0).mean() < 0.6
    assert changed.max() > 0.4  # high levels are drawn too
    assert np.isin(noisy[noisy != x], [0.0, 1.0]).all()
