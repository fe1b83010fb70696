"""The embedding function registered with Chroma, so a collection reopens with our model, offline.

Chroma stores `name()` and `get_config()` with the collection and rebuilds the function from them
on reopen; without a registered function it would fall back to its default model (a download).
The index passes its own vectors on every write and query; this function is what Chroma itself
would call (e.g. `collection.query(query_texts=...)`), and it loads the model only then.
"""

from __future__ import annotations

from pathlib import Path

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from retrieval.embedder import Embedder

NAME = "incident-lens-sentence-transformers"


@register_embedding_function
class IncidentLensEmbeddingFunction(EmbeddingFunction[Documents]):
    def __init__(self, model_path: str, backend: str = "torch", fingerprint: str = "", embedder: Embedder | None = None):
        self.model_path = str(model_path)
        self.backend = backend
        self.fingerprint = fingerprint
        self._embedder = embedder

    @classmethod
    def from_embedder(cls, embedder: Embedder) -> "IncidentLensEmbeddingFunction":
        return cls(str(embedder.model_path), embedder.backend, embedder.fingerprint, embedder)

    def __call__(self, input: Documents) -> Embeddings:
        if self._embedder is None:
            self._embedder = Embedder(Path(self.model_path), backend=self.backend)
        return list(self._embedder.encode(list(input)))

    @staticmethod
    def name() -> str:
        return NAME

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine"]

    def get_config(self) -> dict:
        return {"model_path": self.model_path, "backend": self.backend, "fingerprint": self.fingerprint}

    @staticmethod
    def build_from_config(config: dict) -> "IncidentLensEmbeddingFunction":
        return IncidentLensEmbeddingFunction(config["model_path"], config.get("backend", "torch"), config.get("fingerprint", ""))
