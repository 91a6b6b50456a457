"""A quiet llama.cpp model load must not assign the process's ``sys.stdout``/``sys.stderr`` (not thread-safe).

CI once died with "lost sys.stderr": a model loading on a worker thread saved the stream a CLI test runner had
swapped in, and put it back after the runner had closed it.
"""

from __future__ import annotations

import sys
import threading

import pytest

llama_cpp = pytest.importorskip("llama_cpp")


def test_the_quiet_load_context_leaves_sys_streams_alone() -> None:
    from llama_cpp._utils import suppress_stdout_stderr

    from workbench.components import LlamaCppGenerator

    LlamaCppGenerator("smollm2-135m", max_tokens=2).warm_up()  # installs the private stream view
    out, err = sys.stdout, sys.stderr
    with suppress_stdout_stderr(disable=False):
        assert sys.stdout is out and sys.stderr is err
    assert sys.stdout is out and sys.stderr is err


def test_a_load_on_a_worker_thread_does_not_keep_a_stream_the_main_thread_swapped_in() -> None:
    import io

    from workbench.components import LlamaCppGenerator

    real = sys.stderr
    started, swapped_back = threading.Event(), threading.Event()
    gen = LlamaCppGenerator("smollm2-135m", max_tokens=2, seed=1)

    def load() -> None:
        started.set()
        gen.warm_up()

    temporary = io.StringIO()
    sys.stderr = temporary  # what a CLI runner does while it runs a command
    try:
        worker = threading.Thread(target=load)
        worker.start()
        started.wait(5)
    finally:
        sys.stderr = real
        temporary.close()
        swapped_back.set()
    worker.join(60)
    assert sys.stderr is real and not sys.stderr.closed
