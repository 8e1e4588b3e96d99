"""The utterance index: the same nearest utterances and cosines as semantic-router's LocalIndex,
with the stored vectors' lengths divided out once per change of the index."""

from __future__ import annotations

import numpy as np
from semantic_router.index.local import LocalIndex

from dynamic_model_router.decide.utterance_index import UtteranceIndex

ROUTES = ["doctor", "dcot", "general"]


def filled(index: LocalIndex, vectors: np.ndarray) -> LocalIndex:
    routes = [ROUTES[i % len(ROUTES)] for i in range(len(vectors))]
    index.add(
        embeddings=vectors.tolist(), routes=routes, utterances=[f"utterance {i}" for i in range(len(vectors))]
    )
    return index


def test_it_finds_the_same_utterances_with_the_same_scores_as_semantic_routers_index():
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(60, 16)) * rng.uniform(0.5, 3.0, size=(60, 1))
    ours, theirs = filled(UtteranceIndex(), vectors), filled(LocalIndex(), vectors)
    for query in rng.normal(size=(20, 16)):
        our_scores, our_routes = ours.query(query, top_k=5)
        their_scores, their_routes = theirs.query(query, top_k=5)
        assert list(our_routes) == list(their_routes), "another set or order of nearest utterances"
        np.testing.assert_allclose(our_scores, their_scores, rtol=0, atol=1e-12, err_msg="other cosines")


def test_an_utterance_added_or_removed_after_a_query_counts_at_the_next_one():
    rng = np.random.default_rng(8)
    index = filled(UtteranceIndex(), rng.normal(size=(30, 16)))
    query = rng.normal(size=16)
    index.query(query, top_k=1)
    index.add(embeddings=[(3 * query).tolist()], routes=["dcot"], utterances=["the new one"])
    scores, routes = index.query(query, top_k=1)
    assert list(routes) == ["dcot"] and scores[0] > 0.999, (
        "the query did not see the utterance added after it"
    )
    index.delete("dcot")
    _, routes = index.query(query, top_k=30)
    assert "dcot" not in list(routes), "the query still sees a removed route's utterances"


def test_a_route_filter_searches_only_those_routes():
    index = filled(UtteranceIndex(), np.random.default_rng(9).normal(size=(30, 16)))
    _, routes = index.query(np.ones(16), top_k=10, route_filter=["general"])
    assert set(routes) == {"general"}, routes
