"""TensorFlow's start-up lines are kept off the terminal, and only they."""

import os

from labnn.quiet import native_stderr_muted

NOISE = [
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    b"I0000 00:00:1796020924.889503   17762 port.cc:153] oneDNN custom operations are on.\n",
    b"I0000 00:00:1796020924.889964   17762 cudart_stub.cc:31] Could not find cuda drivers\n",
    b"I0000 00:00:1796020925.212078   17762 cpu_feature_guard.cc:227] This TensorFlow binary\n",
    b"To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild "
    b"TensorFlow with the appropriate compiler flags.\n",
]
KEPT = [
    b"E0000 00:00:1796020925.3 17762 cuda_executor.cc:12] failed call to cuInit\n",
    b"F0000 00:00:1796020925.4 17762 port.cc:99] Check failed: cpu supports AVX\n",
    b"Illegal instruction: a native message of any other kind\n",
]


def test_only_the_start_up_lines_are_dropped(capfd):
    with native_stderr_muted():
        for line in NOISE[:3] + KEPT[:1] + NOISE[3:] + KEPT[1:]:
            os.write(2, line)
    os.write(2, b"after\n")
    assert capfd.readouterr().err.encode() == b"".join(KEPT) + b"after\n"
