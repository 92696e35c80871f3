"""One module per question; each exposes `run(profile, data, store, *, progress) -> dict`."""
