import time

from erroracle.serve.cache import PredictionCache


def test_entries_serve_only_their_version_and_expire():
    cache = PredictionCache(size=2, ttl=0.2)
    cache.put("fp", "v0001", {"a": 1})
    assert cache.get("fp", "v0001") == {"a": 1}
    assert cache.get("fp", "v0002") is None
    time.sleep(0.25)
    assert cache.get("fp", "v0001") is None
    assert (cache.hits, cache.misses) == (1, 2)


def test_the_least_recently_used_entry_goes_first():
    cache = PredictionCache(size=2, ttl=60)
    cache.put("a", "v", 1)
    cache.put("b", "v", 2)
    cache.get("a", "v")
    cache.put("c", "v", 3)
    assert cache.get("b", "v") is None and cache.get("a", "v") == 1 and len(cache) == 2
    disabled = PredictionCache(size=0, ttl=60)
    disabled.put("a", "v", 1)
    assert disabled.get("a", "v") is None
