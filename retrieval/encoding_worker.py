"""Embedding in a child process, one step ahead of the caller.

Usage:
    with EncodingWorker(embedder) as worker:
        for texts, vectors in worker.map(steps):   # steps: lists of texts
            write(texts, vectors)                  # meanwhile the child embeds the next step

Why a process and not a thread: while the index writes a step to Chroma (about a tenth of the time
of embedding it, on one core), the next step can be embedding on torch's threads. Chroma's write
holds Python's GIL, so a writer thread stalled the Python code between torch's operations and was
slower than writing in turn (4,000 VAERS narratives: 49.9 s against 45.3 s). A child process has
its own GIL and its own heap, so torch's buffers no longer fragment the heap Chroma grows in.

The child builds its own `Embedder` from the parent's settings (same model directory, batch size,
threads): the same text gives the same vector as in the parent. It inherits the parent's offline
environment and installs the same socket guard. If the child fails, `map` raises
the child's error; if the parent dies, the child sees its pipe close and exits.
"""

from __future__ import annotations

import multiprocessing
import signal
from typing import Iterable, Iterator

import numpy as np

from incident_lens import offline
from incident_lens.errors import UserError
from retrieval.embedder import Embedder


def _serve(conn, settings: dict) -> None:
    """The child: embed each list of texts received until None, or until the parent has gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops this process
    offline.install_socket_guard()
    embedder = None
    try:
        while (texts := conn.recv()) is not None:
            try:
                embedder = embedder or Embedder(**settings)
                reply = ("ok", embedder.encode(texts))
            except Exception as exc:  # raised again in the parent, which then stops this process
                reply = ("error", f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}")
            conn.send(reply)
    except (EOFError, OSError):  # the parent has gone: nothing is left to embed for
        return


class EncodingWorker:
    """A child process embedding with the same model and settings as `embedder`."""

    def __init__(self, embedder: Embedder):
        spawn = multiprocessing.get_context("spawn")  # fork would copy torch's threads' state
        self._conn, child_end = spawn.Pipe()
        settings = dict(model_path=embedder.model_path, backend=embedder.backend, batch_size=embedder.batch_size, threads=embedder.threads, cache_dir=embedder.cache_dir)
        self._process = spawn.Process(target=_serve, args=(child_end, settings), name="incident-lens-embedder", daemon=True)
        self._process.start()
        child_end.close()
        self._pending = 0

    def submit(self, texts: list[str]) -> None:
        """Hand the child the next texts to embed."""
        self._conn.send(list(texts))
        self._pending += 1

    def result(self) -> np.ndarray:
        """The vectors of the earliest submitted texts not yet collected."""
        try:
            status, payload = self._conn.recv()
        except EOFError:
            raise UserError(f"the embedding process stopped (exit code {self._process.exitcode}); check free memory and run again") from None
        self._pending -= 1
        if status != "ok":
            raise UserError(f"embedding failed in the embedding process: {payload}")
        return payload

    def map(self, steps: Iterable[list[str]]) -> Iterator[tuple[list[str], np.ndarray]]:
        """(texts, vectors) for each step in order; the next step is submitted before this one is yielded."""
        steps = iter(steps)
        current = next(steps, None)
        if current is not None:
            self.submit(current)
        while current is not None:
            vectors = self.result()
            following = next(steps, None)
            if following is not None:
                self.submit(following)
            yield current, vectors
            current = following

    def close(self) -> None:
        """Stop the child: asked to, when it owes nothing; terminated when it owes a result nobody
        will read (it could be blocked sending it) or does not stop within 30 s."""
        if self._pending == 0 and self._process.is_alive():
            self._conn.send(None)
            self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._conn.close()

    def __enter__(self) -> "EncodingWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
