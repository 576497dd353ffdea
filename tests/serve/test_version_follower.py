"""The ingress's version: forward with answers, back with a rollback, and a deletion forgets."""

from __future__ import annotations

import asyncio

from erroracle.platform.lake import ParquetErrorStore
from erroracle.platform.lake_reader import LakeReader
from erroracle.platform.registry import Registry
from erroracle.serve.version_follower import VersionFollower


def test_answers_move_it_forward_a_rollback_back_and_a_deletion_forgets(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"w")
    registry = Registry(str(tmp_path / "lake"))
    for _ in range(2):
        registry.promote(registry.register(model, metrics={}, train_config={}, lineage={}),
                         reason="test")
    seen, forgotten = [], []
    follower = VersionFollower(registry, LakeReader(str(tmp_path / "lake")),
                               on_version=seen.append, forget=lambda: forgotten.append(1))
    follower.adopt("v0002")
    follower.adopt("v0001")  # an answer from a replica that is behind: ignored
    assert follower.version == "v0002" and seen == ["v0002"]
    registry.rollback()
    with ParquetErrorStore(str(tmp_path / "lake"), background=False) as store:
        store.append([{"id": "r1", "message": "boom"}])
        store.flush()
        store.delete(ids=["r1"])

    async def look() -> None:
        follower.follow()
        await follower._poll

    asyncio.run(look())
    assert follower.version == "v0001" and seen == ["v0002", "v0001"] and forgotten == [1]
