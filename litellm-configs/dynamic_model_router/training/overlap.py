"""When two texts count as the same item reworded: their word sets' overlap (Jaccard) above a limit.

The check runs between thousands of training texts and every measured item, so near_duplicates
finds the pairs with a prefix filter (a pair above the limit must share one of each text's rarest
words) instead of comparing every pair; the answer is the same as comparing every pair.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence


def words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9]+", text.lower()))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / max(1, len(a | b))


def near_duplicates(
    texts: Sequence[str], others: Sequence[str], limit: float
) -> dict[int, tuple[int, float]]:
    """For each text with an other above `limit`: its index -> (the closest other's index, overlap)."""
    own = [words(t) for t in texts]
    theirs = [words(t) for t in others]
    frequency = Counter(w for found in (*own, *theirs) for w in found)

    def prefix(found: frozenset[str]) -> list[str]:
        # Jaccard > limit needs |A & B| > limit * |A|: B holds one of A's rarest |A| - ceil(limit * |A|) + 1.
        ranked = sorted(found, key=lambda w: (frequency[w], w))
        return ranked[: len(ranked) - math.ceil(limit * len(ranked)) + 1]

    index: dict[str, list[int]] = defaultdict(list)
    for j, found in enumerate(theirs):
        for word in prefix(found):
            index[word].append(j)
    hits = {}
    for i, found in enumerate(own):
        candidates = {j for word in prefix(found) for j in index.get(word, ())}
        best = max(((jaccard(found, theirs[j]), j) for j in candidates), default=(0.0, -1))
        if best[0] > limit:
            hits[i] = (best[1], best[0])
    return hits
