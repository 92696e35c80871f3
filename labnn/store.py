"""Content-addressed store of training runs: nothing is ever trained twice.

One entry per run, in `<root>/entries/<key>/`: `entry.json` (the spec that
keyed it, JSON results, metadata) and `arrays.npz` (numpy arrays; never
pickle). The key hashes the spec, which its caller makes (`labnn.runs.Run.spec`:
experiment, model and training parameters, seed, data fingerprint and recipe
version, the training path's name and version, Keras's and the backend's
versions), so a change to any of them makes a new entry. The store knows no
Keras: what an entry's metadata records of the backend comes from the caller.

An entry is written in a temporary folder, flushed to disk, then renamed
into place: readers see a whole entry or none. A per-key file lock makes a
second process wait for a run the first is computing instead of repeating it.

A store may be shared (a group-writable folder, setgid or not): every folder and
file it makes takes the permissions of the store's root folder, not the writer's
umask, so the next user can replace a damaged entry or take a lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labnn.errors import StoreError
from labnn.machine import machine


class MissingRun(StoreError):
    """Raised in offline mode when a run would have to be computed."""

    def __init__(self, specs: list[dict]):
        self.specs = specs
        super().__init__(f"{len(specs)} run(s) not in the store")


log = logging.getLogger(__name__)

STORE_FORMAT = 1


@dataclass(frozen=True, eq=False)
class Entry:
    """One stored run."""

    key: str
    spec: dict
    results: dict  # JSON-able scalars and histories
    meta: dict  # machine, versions, backend, when
    arrays: dict[str, np.ndarray]


class Store:
    """Result store rooted at a folder (created on first write).

    With `force`, each run is recomputed once in this process, even when stored.
    With `offline`, nothing is computed: a missing run raises MissingRun (for
    `report status` and for sections left out of `--only`).
    `computed` and `reused` count what `run` did, for progress and tests.
    """

    def __init__(self, root: str | os.PathLike, *, force: bool = False, offline=False):
        self.root = Path(root)
        self.force = force
        self.offline = offline
        self.computed = 0
        self.reused = 0
        self._fresh: set[str] = set()
        self._writable = False  # checked once, before the first run trains
        self._warned: set[str] = set()  # damaged entries already reported

    def key(self, spec: dict) -> str:
        """The content key of `spec`: a hash of it and nothing else."""
        canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:24]

    def get(self, spec: dict) -> Entry | None:
        """The finished entry for `spec`, or None (missing, or damaged and then ignored)."""
        return self._read(self.key(spec))

    def put(self, spec: dict, results: dict, arrays: dict | None = None, meta=None) -> Entry:
        """Write an entry atomically and return it as stored; its metadata is this
        machine's (`labnn.machine.machine`) and `meta` (the backend's, a worker's)."""
        key = self.key(spec)
        document = {
            "format": STORE_FORMAT,
            "key": key,
            "spec": spec,
            "results": results,
            "meta": {**machine(), "created": _now(), **(meta or {})},
        }
        self._write(key, document, arrays or {})
        entry = self._read(key)
        if entry is None:
            raise StoreError(f"entry {key} could not be read back from {self.root}")
        return entry

    def run(
        self,
        spec: dict,
        compute: Callable[[], tuple],
        *,
        on_hit: Callable[[Entry], None] | None = None,
    ) -> Entry:
        """The stored entry for `spec`, computing and storing it first if needed.

        `compute()` returns (results, arrays), or (results, arrays, meta) when it computed
        them elsewhere (meta: that environment); it is not called when the entry is stored.
        """
        key = self.key(spec)
        force = self.force and key not in self._fresh
        if not force and (entry := self._read(key)) is not None:
            return self._hit(entry, on_hit)
        if self.offline:
            raise MissingRun([spec])
        with self._lock(key):
            # Another process may have finished this run while we waited for the lock.
            if not force and (entry := self._read(key)) is not None:
                return self._hit(entry, on_hit)
            results, arrays, *meta = compute()
            entry = self.put(spec, results, arrays, *meta)
        self.computed += 1
        self._fresh.add(key)
        return entry

    def lookup(self, spec: dict) -> Entry | None:
        """The entry `run` would return without computing, or None (also under `force`,
        until the run has been recomputed in this process)."""
        key = self.key(spec)
        if self.force and key not in self._fresh:
            return None
        return self._read(key)

    def record(self, spec: dict, results: dict, arrays: dict | None = None, meta=None) -> Entry:
        """Store a run computed elsewhere (a Dask worker, whose environment `meta`
        describes), counted as computed here."""
        entry = self.put(spec, results, arrays, meta)
        self.computed += 1
        self._fresh.add(entry.key)
        return entry

    def _hit(self, entry: Entry, on_hit) -> Entry:
        self.reused += 1
        if on_hit:
            on_hit(entry)
        return entry

    def explain(self, spec: dict) -> str:
        """Why `spec` is not stored: missing, or which part changed since a stored
        run of the same experiment (profile, data, training path or versions)."""
        if self.get(spec) is not None:
            return "stored"
        same = [e.spec for e in self.entries() if e.spec.get("experiment") == spec["experiment"]]
        if not same:
            return "missing (never run)"
        for old in same:
            changed = {part for part in spec if old.get(part) != spec[part]}
            if changed == {"trainer"} and (moved := _site_moved(old["trainer"], spec["trainer"])):
                return f"stored as trained at another site ({moved})"
            if len(changed) == 1 and (reason := _VERSIONED.get(next(iter(changed)))):
                return reason
            if changed == {"data"}:
                fingerprint = old["data"].get("fingerprint") != spec["data"].get("fingerprint")
                return "data changed" if fingerprint else "profile changed (data slice)"
            same_seed = old.get("training", {}).get("seed") == spec["training"].get("seed")
            if changed == {"training"} and same_seed:
                return "profile changed (training settings)"
        return "missing (not run yet)"

    def entries(self) -> list[Entry]:
        """Every readable entry, for reports and status."""
        folder = self.root / "entries"
        if not folder.is_dir():
            return []
        # Dot names are not entries: the write check's probe, should a kill interrupt it.
        names = sorted(path.name for path in folder.iterdir() if not path.name.startswith("."))
        found = (self._read(name) for name in names)
        return [entry for entry in found if entry is not None]

    # -- files ---------------------------------------------------------------------------

    def _read(self, key: str) -> Entry | None:
        folder = self.root / "entries" / key
        if not folder.is_dir():
            return None
        try:
            document = json.loads((folder / "entry.json").read_text())
            arrays = self._read_arrays(folder, document["arrays_sha256"])
            return Entry(
                key=key,
                spec=document["spec"],
                results=document["results"],
                meta=document["meta"],
                arrays=arrays,
            )
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as error:
            # A corrupt zip behind a matching checksum (tampering, a bad disk) is as damaged
            # as a truncated one. `run` reads an entry twice (before and after its lock):
            # say so once.
            if key not in self._warned:
                self._warned.add(key)
                log.warning(
                    "ignoring damaged store entry %s (%s); it will be recomputed", folder, error
                )
            return None

    @staticmethod
    def _read_arrays(folder: Path, expected_sha: str) -> dict[str, np.ndarray]:
        raw = (folder / "arrays.npz").read_bytes()
        if hashlib.sha256(raw).hexdigest() != expected_sha:
            raise ValueError("arrays.npz does not match its checksum")
        with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}

    def _write(self, key: str, document: dict, arrays: dict):
        entries = self.root / "entries"
        tmp = None
        try:
            self._make_folder(entries)
            tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=self.root))
            np.savez(tmp / "arrays.npz", **{k: np.asarray(v) for k, v in arrays.items()})
            document["arrays_sha256"] = hashlib.sha256(
                (tmp / "arrays.npz").read_bytes()
            ).hexdigest()
            (tmp / "entry.json").write_text(json.dumps(document, indent=1, default=_json_default))
            for name in ("arrays.npz", "entry.json"):
                os.chmod(tmp / name, self._file_mode())
                _fsync(tmp / name)
            os.chmod(tmp, self._folder_mode())  # mkdtemp makes it 0700: private to its writer
            self._replace(tmp, entries / key)
            tmp = None
        except OSError as error:
            raise StoreError(_write_problem(self.root, error)) from None
        finally:
            if tmp is not None:  # a failed write leaves no half-written folder behind
                shutil.rmtree(tmp, ignore_errors=True)

    def _replace(self, tmp: Path, target: Path):
        if target.exists():  # a damaged entry (or a forced re-run): move it aside first
            trash = self.root / "trash" / f"{target.name}-{time.time_ns()}"
            self._make_folder(trash.parent)
            os.rename(target, trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.rename(tmp, target)
        _fsync(target.parent)

    def check_writable(self):
        """Fail now, before anything trains, if a finished run could not be stored: the
        root, `entries/` and `locks/` must be folders this user can create files in.
        Checked once per Store; `run` and `claim` call it before their first lock.

        Raises:
            StoreError: naming the folder, the cause (a file in the way, no permission,
                a read-only or full disk) and what to do.
        """
        if self._writable:
            return
        self.check_folder()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            for folder in (self.root / "entries", self.root / "locks"):
                self._make_folder(folder)
            # The write an entry makes: a temporary folder in the root, renamed into entries/.
            probe = Path(tempfile.mkdtemp(prefix=".probe-", dir=self.root))
            try:
                (probe / "probe").write_bytes(b"labnn")
                os.rename(probe, self.root / "entries" / probe.name)
                probe = self.root / "entries" / probe.name
            finally:
                shutil.rmtree(probe, ignore_errors=True)
            handle, name = tempfile.mkstemp(prefix=".probe-", dir=self.root / "locks")
            os.close(handle)
            os.unlink(name)
        except OSError as error:
            raise StoreError(_write_problem(self.root, error)) from None
        self._writable = True

    def check_folder(self):
        """A StoreError now when the store's path names a file (reading would find
        nothing there, and the first write would fail after training)."""
        if (blocker := _file_in_the_way(self.root)) is not None:
            raise StoreError(
                f"result store {self.root}: {blocker} is a file, not a folder; pass a folder "
                "with --store (or LABNN_STORE), e.g. a new one, which is created"
            )

    def _folder_mode(self) -> int:
        """The store root's permissions (setgid included), for every folder it holds."""
        try:
            return self.root.stat().st_mode & 0o2777  # not the sticky bit: it bars renames
        except OSError:
            return 0o755

    def _file_mode(self) -> int:
        """The root's read and write bits, for files: rw-rw-r-- in a group-writable store."""
        return self._folder_mode() & 0o666

    def _make_folder(self, folder: Path):
        """`folder` (and the root) with the root's permissions, whatever this user's umask."""
        self.root.mkdir(parents=True, exist_ok=True)
        if folder.is_dir():
            return
        if folder.exists():
            raise NotADirectoryError(errno.ENOTDIR, "a file is in the way of a folder", folder)
        try:
            folder.mkdir()
        except FileExistsError:  # another process made it meanwhile
            return
        with contextlib.suppress(PermissionError):
            os.chmod(folder, self._folder_mode())

    @contextlib.contextmanager
    def claim(self, specs: list[dict]):
        """Lock the runs of `specs` that no other process is computing and that are
        still missing; yields their indices. Runs elsewhere claimed are left out:
        `run` later waits for them and reads what that process stored."""
        with contextlib.ExitStack() as held:
            claimed = []
            for i, spec in enumerate(specs):
                lock = self._lock(self.key(spec))
                if lock.try_acquire():
                    held.callback(lock.release)
                    if self.lookup(spec) is None:  # not finished meanwhile elsewhere
                        claimed.append(i)
            yield claimed

    def _lock(self, key: str):
        self.check_writable()
        return _FileLock(self.root / "locks" / f"{key}.lock", mode=self._file_mode())


# A spec's parts that say what computed it, and the reason a change of one gives.
def _site_moved(old: dict, new: dict) -> str:
    """The facts of the site (`labnn.engine.Site`) in which two trainer keys of one path
    and version differ, e.g. 'threads 2, here 1'; '' if they differ otherwise."""
    same_path = all(old.get(k) == new.get(k) for k in ("path", "version"))
    facts = (set(old) | set(new)) - {"path", "version"}
    if not same_path or not facts <= {"threads", "onednn"}:
        return ""
    return "; ".join(f"{fact} {old.get(fact)}, here {new.get(fact)}" for fact in sorted(facts)
                     if old.get(fact) != new.get(fact))  # fmt: skip


_VERSIONED = {
    "trainer": "training path or its version changed",
    "backend": "Keras or backend version changed",
    "after": "version of what is computed with the run changed",
    "version": "version of the computation changed",
}


class _FileLock:
    """An flock on `path`, created with `mode`. flock needs no write permission, so a
    lock file another user of a shared store made is opened read-only."""

    def __init__(self, path: Path, *, mode: int = 0o644):
        self.path = path
        self.mode = mode

    def __enter__(self):
        self.handle = self._open()
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # Shown without -v: a build that sits silent for minutes looks hung.
            log.warning("waiting for another build that is computing run %s in this store",
                        self.path.stem)  # fmt: skip
            fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        self.release()

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; False (and nothing held) otherwise."""
        self.handle = self._open()
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.handle)
            return False
        return True

    def release(self):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        os.close(self.handle)

    def _open(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, self.mode)
        except FileExistsError:
            try:
                return os.open(self.path, os.O_RDONLY)
            except OSError as error:  # another user's lock file, private to them
                raise StoreError(_write_problem(self.path.parent.parent, error)) from None
        except OSError as error:
            raise StoreError(_write_problem(self.path.parent.parent, error)) from None
        with contextlib.suppress(OSError):
            os.fchmod(fd, self.mode)  # the umask narrowed what os.open was asked for
        return fd


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _write_problem(root: Path, error: OSError) -> str:
    """One line for a failed write to the store: a full disk is not a permission problem."""
    where = Path(error.filename or root)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        cause, fix = "the disk is full (or your quota is used up)", "Free some space, or choose"
    elif error.errno == errno.EROFS:
        cause, fix = "it is on a read-only file system", "Choose"
    elif error.errno in (errno.EACCES, errno.EPERM):
        cause = f"you have no permission to write there ({where})"
        fix = "Ask its owner for write access (chmod -R g+w for a shared store), or choose"
    elif error.errno in (errno.ENOTDIR, errno.EEXIST):
        cause = f"{_file_in_the_way(where) or where} is a file, not a folder"
        fix = "Move that file away, or choose"
    else:
        cause, fix = f"{error.strerror or error} ({where})", "Choose"
    return (
        f"cannot write to the result store {root}: {cause}. {fix} another folder with "
        "--store (or LABNN_STORE); finished runs stay stored."
    )


def _file_in_the_way(path: Path) -> Path | None:
    """`path` or the first of its parents that exists as something other than a folder."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return None if candidate.is_dir() else candidate
    return None


def _fsync(path: Path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
