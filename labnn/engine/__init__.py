"""How a model trains: `choose` picks the path for a model on the backend in use
(the table in `labnn.engine.dispatch`), and the path trains it and predicts with it.

Knows nothing of runs, stores, Dask or questions. Everything outside the engine
(runs, experiments, benchmarks, the report) uses only what this module exports.
"""

from labnn.engine.dispatch import (
    FIT,
    JAX_SCAN,
    PATHS,
    TF_GRAPH_LOOP,
    TF_STACKED,
    TF_XLA_LOOP,
    Site,
    TrainingPath,
    choose,
    environment,
    here,
    local_worker,
    versions,
)
from labnn.engine.tf_backend import onednn_for_workers
from labnn.engine.tf_loop import convolutional

__all__ = ["FIT", "JAX_SCAN", "PATHS", "TF_GRAPH_LOOP", "TF_STACKED", "TF_XLA_LOOP", "Site",
           "TrainingPath", "choose", "convolutional", "environment", "here", "local_worker",
           "onednn_for_workers", "versions"]  # fmt: skip
