"""The `python -m report` command: builds the assignment's report from labnn's results."""
