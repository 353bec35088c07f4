import random
from collections import Counter

from nameserver.placement import Candidate, choose_pipeline

GB = 10**9


def test_choose_pipeline_picks_distinct_servers_up_to_count():
    cands = [Candidate(f"s{i}", "", 10 * GB) for i in range(5)]
    picked = choose_pipeline(cands, 3, 100, random.Random(1))
    assert len(picked) == 3 and len({c.server_id for c in picked}) == 3


def test_choose_pipeline_skips_excluded_and_full_servers():
    cands = [Candidate("full", "", 50), Candidate("gone", "", GB), Candidate("ok", "", GB)]
    picked = choose_pipeline(cands, 3, 100, random.Random(1), exclude=frozenset({"gone"}))
    assert [c.server_id for c in picked] == ["ok"]


def test_choose_pipeline_spreads_across_zones_first():
    cands = [Candidate("a1", "a", GB), Candidate("a2", "a", GB), Candidate("a3", "a", GB),
             Candidate("b1", "b", GB), Candidate("c1", "c", GB)]
    for seed in range(50):
        picked = choose_pipeline(cands, 3, 1, random.Random(seed))
        assert {c.zone for c in picked} == {"a", "b", "c"}


def test_choose_pipeline_prefers_emptier_servers():
    cands = [Candidate("empty", "", 100 * GB), Candidate("busy", "", 1 * GB)]
    rng = random.Random(3)
    firsts = Counter(choose_pipeline(cands, 1, 1, rng)[0].server_id for _ in range(500))
    assert firsts["empty"] > 400


def test_choose_pipeline_empty_when_nothing_fits():
    assert choose_pipeline([Candidate("s", "", 10)], 3, 11, random.Random(0)) == []


def test_choose_pipeline_avoids_zones_already_used_by_the_block():
    cands = [Candidate("a1", "a", GB), Candidate("a2", "a", GB), Candidate("b1", "b", GB)]
    for seed in range(30):
        picked = choose_pipeline(cands, 1, 1, random.Random(seed), used_zones=frozenset({"a"}))
        assert [c.server_id for c in picked] == ["b1"]
