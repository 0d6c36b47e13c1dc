"""Connected components: links are transitive, labels are the smallest member."""

from __future__ import annotations

import numpy as np

from pipelines.identity.graph import components


def _union_find(n: int, edges: list[tuple[int, int]]) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = [find(i) for i in range(n)]
    smallest: dict[int, int] = {}
    for i, r in enumerate(roots):
        smallest.setdefault(r, i)
    return [smallest[r] for r in roots]


def test_chain_is_one_component():
    labels = components(5, np.array([4, 2, 1]), np.array([3, 3, 2]))
    assert labels.tolist() == [0, 1, 1, 1, 1]


def test_matches_an_independent_union_find_on_random_graphs():
    rng = np.random.default_rng(7)
    for n in (1, 2, 50, 2000):
        m = int(rng.integers(0, n * 2))
        left, right = rng.integers(0, n, m), rng.integers(0, n, m)
        expected = _union_find(n, list(zip(left.tolist(), right.tolist(), strict=True)))
        assert components(n, left, right).tolist() == expected


def test_no_nodes():
    assert components(0, np.array([]), np.array([])).tolist() == []
