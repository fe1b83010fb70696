"""The exceptions of the retrieval library. Messages name the value and what is wrong, never a CLI flag:
the application turns them into its own one-line errors (and adds which command to run).
"""


class RetrievalError(Exception):
    """Bad input to the index, the embedder or a query (a collection name, a filter, a model directory)."""


class IndexNotFound(RetrievalError):
    """No index of that name in the folder."""


class IndexBusy(RetrievalError):
    """Another process holds the index's write lock."""
