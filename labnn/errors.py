"""Exception types a user, a file or the network can cause.

The report CLI turns a LabnnError into one line on stderr and an exit code;
anything else is a bug and keeps its traceback.
"""


class LabnnError(Exception):
    """Base of every error labnn raises on purpose."""


class DataError(LabnnError):
    """MNIST is missing, corrupt, or not what it claims to be."""


class ConfigError(LabnnError):
    """A profile override or a configuration file is invalid."""


class StoreError(LabnnError):
    """The result store cannot be read or written."""


class SchedulerError(LabnnError):
    """The Dask scheduler cannot be reached, or its workers cannot run labnn."""
