"""Retrieval for incident-lens: sentence embeddings and the persistent Chroma + BM25 index.

Usage:
    from retrieval import Embedder, IncidentIndex
    index = IncidentIndex.open(workspace.index_dir, "incidents", Embedder(), writable=True)
    index.add(reports.frame, meta_cols=["harm"]); index.query("fall from bed", k=5)
Heavy libraries (torch, chromadb) are imported when first used, not by this package.
"""

import os

# huggingface_hub and transformers read these once, when first imported (by the embedder, after this
# package): set here as defaults (an application's own values win) so that importing this package
# first, or alone, keeps them off the hub. Chroma's telemetry is switched off where a client is made.
for _name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
    os.environ.setdefault(_name, "1")

from retrieval.embedder import Embedder, default_model_path
from retrieval.hits import Hit, Record


def __getattr__(name):
    # The index pulls in chromadb (slow to import); load it only when asked for.
    if name in ("IncidentIndex", "IndexSummary", "MODES", "DEFAULT_MODE"):
        from retrieval import index

        return getattr(index, name)
    raise AttributeError(name)


__all__ = ["Embedder", "default_model_path", "Hit", "Record", "IncidentIndex", "IndexSummary", "MODES", "DEFAULT_MODE"]
