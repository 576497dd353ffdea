"""Fix vectors kept beside a model version: encoded once, read back by the next load."""

from __future__ import annotations

import numpy as np

from erroracle.serve.fix_vectors import FixVectors, cached_encoder


class CountingEncoder:
    """A deterministic stand-in for the model that counts the texts it was asked to encode."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, texts):
        self.texts.extend(texts)
        return np.array([[len(t), t.count("e"), 1.0] for t in texts], dtype=np.float32)


def test_a_second_load_reads_the_vectors_instead_of_encoding(tmp_path):
    first = CountingEncoder()
    store = FixVectors.beside(tmp_path, quantized=True, max_length=256).load()
    embed = cached_encoder(first, store)
    out = embed(["restart redis", "reinstall numpy", "restart redis"])
    assert first.texts == ["restart redis", "reinstall numpy"]
    assert out.shape == (3, 3) and np.array_equal(out[0], out[2])
    again = CountingEncoder()
    reloaded = cached_encoder(again, FixVectors.beside(tmp_path, quantized=True,
                                                       max_length=256).load())
    assert np.array_equal(reloaded(["reinstall numpy", "restart redis", "new fix"]),
                          first(["reinstall numpy", "restart redis", "new fix"]))
    assert again.texts == ["new fix"]
    # another length or another runtime is another set of vectors
    assert FixVectors.beside(tmp_path, quantized=False, max_length=256).load().vectors == {}


def test_a_damaged_part_is_encoded_again_and_many_parts_are_merged(tmp_path):
    folder = tmp_path / "fix-vectors-fp32-256"
    store = FixVectors(folder).load()
    for n in range(5):
        cached_encoder(CountingEncoder(), store)([f"fix {n}"])
    (folder / "part-0-damaged.parquet").write_bytes(b"not parquet")
    merged = FixVectors(folder, compact_at=3).load()
    assert len(merged.vectors) == 5
    assert len(list(folder.glob("part-*.parquet"))) == 1
    assert len(FixVectors(folder).load().vectors) == 5


def test_forgotten_texts_leave_memory_and_disk_and_the_rest_stays(tmp_path):
    store = FixVectors(tmp_path / "vectors").load()
    embed = cached_encoder(CountingEncoder(), store)
    embed(["restart redis"])
    embed(["reinstall numpy"])
    store.forget(["restart redis", "never stored"])
    assert len(list((tmp_path / "vectors").glob("part-*.parquet"))) == 1
    again = CountingEncoder()
    cached_encoder(again, FixVectors(tmp_path / "vectors").load())(
        ["restart redis", "reinstall numpy"])
    assert again.texts == ["restart redis"]  # read back: only what was not forgotten
