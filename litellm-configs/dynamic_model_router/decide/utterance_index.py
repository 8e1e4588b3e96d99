"""The routes' utterance vectors, searched by cosine similarity: semantic-router's LocalIndex with
the utterances' lengths divided out once per change of the index, not on every message.

LocalIndex.query recomputes the norm of every stored vector for each query, on the proxy's event
loop: a large part of a decision's own cost beside the embedding. The scores are the same cosines
(to the last bits of a float64).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import PrivateAttr
from semantic_router.index.local import LocalIndex
from semantic_router.linear import top_scores


class UtteranceIndex(LocalIndex):
    # The stored vectors scaled to unit length, and the array they were computed from: any
    # upsert or delete replaces `index` with a new array, which makes them stale.
    _unit: Any = PrivateAttr(default=None)
    _unit_of: Any = PrivateAttr(default=None)

    def query(
        self,
        vector: np.ndarray,
        top_k: int = 5,
        route_filter: list[str] | None = None,
        sparse_vector: Any = None,
    ) -> tuple[np.ndarray, list[str]]:
        if route_filter is not None or self.index is None or self.routes is None:
            return super().query(vector, top_k, route_filter, sparse_vector)
        scores, rows = self._top(vector, top_k)
        return scores, [self.routes[i] for i in rows]

    def nearest(self, vector: np.ndarray, top_k: int) -> list[tuple[str, str, float]]:
        """The route, utterance and cosine similarity of each of the top_k stored vectors nearest
        to `vector`, the nearest last."""
        if self.index is None or self.routes is None or self.utterances is None:
            return []
        scores, rows = self._top(vector, top_k)
        return [
            (str(self.routes[i]), str(self.utterances[i]), float(s))
            for s, i in zip(scores, rows, strict=True)
        ]

    def _top(self, vector: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
        index: np.ndarray = self.index  # type: ignore[assignment]
        if self._unit_of is not index:
            self._unit = index / np.linalg.norm(index, axis=1)[:, None]
            self._unit_of = index
        return top_scores(self._unit @ vector / np.linalg.norm(vector), top_k)
