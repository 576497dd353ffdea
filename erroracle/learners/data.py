"""The training data pipeline on Ray Data: lake → capped groups → labelled examples → tokens.

Deleted records never arrive (the lake's reader drops them). Each fingerprint contributes at most
``train.max_per_fingerprint`` records, so one noisy error cannot dominate a round; the split is by
fingerprint, so the same error never sits on both sides. Each training error with a solution
also carries a hard negative: a fix users said did not work for it, else the BM25-closest fix of
another issue (``learners.hard_negatives``). Tokens are cut at ``model.max_length`` in
``map_batches`` and padded per batch by :class:`Collator` (dynamic padding: a batch of short errors
costs what short errors cost).

The cost follows the data: which records the cap drops is decided on the driver from two narrow
columns (only crowded groups are looked at), so no shuffle is planned; the map stages are plain
tasks of one CPU (the tokenizer is loaded once per worker process), and the pipeline never holds
more CPUs than the round's share (:class:`~erroracle.platform.resources.ResourcePlan`), so it
cannot starve beside Serve.

Example:
    >>> data = build_datasets(store, config, taxonomy)  # doctest: +SKIP
    >>> data.train.count(), data.lineage["records"]  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import torch
from ray.data.collate_fn import ArrowBatchCollateFn

from erroracle.errors import ValidationError
from erroracle.learners.examples import (
    COLUMNS,
    EXAMPLE_SCHEMA,
    Labeler,
    cap_group,
    to_examples,
)
from erroracle.learners.feedback_pairs import FeedbackPairs, feedback_pairs, judged_fixes
from erroracle.learners.hard_negatives import NegativeMiner
from erroracle.learners.model import LabelSpace, base_encoder_path
from erroracle.platform.config import Config, TrainConfig
from erroracle.platform.record_text import in_validation, solution_text
from erroracle.platform.store import ErrorReader
from erroracle.platform.taxonomy import Taxonomy

if TYPE_CHECKING:
    import ray.data

__all__ = ["LEARNING_SOURCES", "Collator", "TrainingData", "build_datasets", "capped_ids"]

# Feedback records are corrections of other records, not examples of their own.
LEARNING_SOURCES = ("app", "stackoverflow", "reddit", "github", "knowledge")


@dataclass
class TrainingData:
    """The two splits (materialised Ray Datasets), the label space and where the data came from."""

    train: ray.data.Dataset
    validation: ray.data.Dataset
    labels: LabelSpace
    lineage: dict[str, Any] = field(default_factory=dict)

    def validation_table(self) -> pa.Table:
        """The validation examples on the driver, for evaluation."""
        import ray

        tables = ray.get(self.validation.to_arrow_refs())
        return pa.concat_tables(tables) if tables else EXAMPLE_SCHEMA.empty_table()

    def records(self) -> pa.Table:
        """Which records the round learns from and is judged on (``Registry.register``)."""
        import ray

        columns = ["id", "fingerprint", "received_at", "validation"]
        tables = [table for split in (self.train, self.validation)
                  for table in ray.get(split.select_columns(columns).to_arrow_refs())]
        return pa.concat_tables(tables) if tables else EXAMPLE_SCHEMA.empty_table()


def capped_ids(index: pa.Table, cap: int, seed: int) -> pa.Array:
    """The ids :func:`cap_group` leaves out, from ``id``, ``fingerprint`` and ``solution``
    columns; only groups over the cap are looked at (records without a fingerprint form one
    group, as they did under the ``groupby`` this replaces)."""
    counts = index.group_by("fingerprint").aggregate([("id", "count")])
    crowded = counts.filter(pc.greater(counts["id_count"], cap))["fingerprint"]
    dropped: list[str] = []
    if len(crowded):
        rows = index.filter(pc.is_in(index["fingerprint"], value_set=crowded))
        rows = rows.sort_by("fingerprint")
        fingerprints = rows["fingerprint"].to_pylist()
        start = 0
        for end in range(1, len(fingerprints) + 1):
            if end == len(fingerprints) or fingerprints[end] != fingerprints[start]:
                group = rows.slice(start, end - start)
                kept = set(cap_group(group, cap, seed)["id"].to_pylist())
                dropped.extend(i for i in group["id"].to_pylist() if i not in kept)
                start = end
    return pa.array(dropped, type=pa.string())


def _labeller(labeler: Labeler, dropped: pa.Array, fraction: float, seed: int,
              issues: dict[str, str], negatives: dict[str, str], miner: NegativeMiner | None):
    def label(batch: pa.Table) -> pa.Table:
        if len(dropped):
            batch = batch.filter(pc.invert(pc.is_in(batch["id"], value_set=dropped)))
        return to_examples(batch, labeler, validation_fraction=fraction, seed=seed,
                           issues=issues, negatives=negatives, miner=miner)

    return label


def _miner(index: pa.Table, dropped: pa.Array, issues: dict[str, str],
           train_cfg: TrainConfig) -> NegativeMiner | None:
    """BM25 over the solutions on the training side of the split (``learners.hard_negatives``),
    from the narrow columns already on the driver."""
    if not train_cfg.mine_negatives:
        return None
    if len(dropped):
        index = index.filter(pc.invert(pc.is_in(index["id"], value_set=dropped)))
    solutions, groups = [], []
    for record_id, fingerprint, solution in zip(
        index["id"].to_pylist(), index["fingerprint"].to_pylist(),
        index["solution"].to_pylist(), strict=True,
    ):
        text = solution_text({"solution": solution})
        group = issues.get(fingerprint or record_id, fingerprint or record_id)
        if text and not in_validation(group, train_cfg.validation_fraction, train_cfg.seed):
            solutions.append(text)
            groups.append(group)
    return NegativeMiner(solutions, groups) if solutions else None


@lru_cache(maxsize=2)
def _tokenizer(path: str):
    """Loaded once per Ray worker process, from the local folder only."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def _tokenize(tokenizer_path: str, max_length: int):
    def ids(texts: list[str]) -> pa.Array:
        encoded = _tokenizer(tokenizer_path)(texts, truncation=True,
                                             max_length=max_length)["input_ids"]
        return pa.array(
            [ids if text else [] for ids, text in zip(encoded, texts, strict=True)],
            type=pa.list_(pa.int32()),
        )

    def tokenize(batch: pa.Table) -> pa.Table:
        batch = batch.append_column("input_ids", ids(batch["error_text"].to_pylist()))
        batch = batch.append_column("solution_ids", ids(batch["solution_text"].to_pylist()))
        return batch.append_column("negative_ids", ids(batch["negative_text"].to_pylist()))

    return tokenize


def _split(flag: bool):
    def keep(batch: pa.Table) -> pa.Table:
        return batch.filter(pc.equal(batch["validation"], flag))

    return keep


def build_datasets(
    store: ErrorReader, config: Config, taxonomy: Taxonomy, *, until: datetime | None = None
) -> TrainingData:
    """Read the lake and build the tokenised, materialised train and validation datasets."""
    import ray.data

    counts = store.counts_by_source()
    if not any(counts.get(source) for source in LEARNING_SOURCES):
        raise ValidationError("the lake has no records to learn from", field="data_root")
    feedback = store.read_table(sources=["feedback"])
    labeler = Labeler.from_feedback(taxonomy, feedback)
    pairs = _pairs(store, feedback, until)
    train_cfg = config.train
    index = store.read_table(sources=LEARNING_SOURCES, until=until,
                             columns=["id", "fingerprint", "solution"])
    dropped = capped_ids(index, train_cfg.max_per_fingerprint, train_cfg.seed)
    issues = store.issue_map(index["fingerprint"])
    records = store.to_dataset(sources=LEARNING_SOURCES, until=until).select_columns(COLUMNS)
    if pairs.positives.num_rows:
        records = records.union(ray.data.from_arrow(pairs.positives))
    # never more CPUs at once than the round holds beside Serve (see platform.resources)
    limits = records.context.execution_options
    limits.resource_limits = limits.resource_limits.copy(
        cpu=train_cfg.workers * train_cfg.cpus_per_worker)
    examples = (
        records.map_batches(
            _labeller(labeler, dropped, train_cfg.validation_fraction, train_cfg.seed, issues,
                      pairs.negatives, _miner(index, dropped, issues, train_cfg)),
            batch_format="pyarrow",
        )
        .map_batches(
            _tokenize(base_encoder_path(config.model.base), config.model.max_length),
            batch_format="pyarrow",
        )
        .materialize()
    )
    # the files' own order (knowledge base, crawls, apps) is not an order to learn in: blocks
    # are shuffled here, rows within a window by each worker (learners.train._batches)
    train = (examples.map_batches(_split(False), batch_format="pyarrow")
             .randomize_block_order(seed=train_cfg.seed).materialize())
    validation = examples.map_batches(_split(True), batch_format="pyarrow").materialize()
    return TrainingData(train, validation, labeler.space, _lineage(examples, until))


def _pairs(store: ErrorReader, feedback: pa.Table, until: datetime | None) -> FeedbackPairs:
    """Feedback on fixes as positive pairs and hard negatives (``learners.feedback_pairs``)."""
    if until is not None and feedback.num_rows:
        feedback = feedback.filter(pc.less_equal(feedback["received_at"], until))
    judged = judged_fixes(feedback)
    fixes = store.read_table(columns=["id", "solution"])
    fixes = fixes.filter(pc.is_in(fixes["id"], value_set=pa.array(judged, type=pa.string())))
    return feedback_pairs(feedback, fixes)


def _lineage(examples: ray.data.Dataset, until: datetime | None) -> dict[str, Any]:
    import ray

    columns = examples.select_columns(
        ["source", "received_at", "validation", "tag_category", "negative_text"])
    tables = ray.get(columns.to_arrow_refs())
    table = pa.concat_tables(tables)
    per_source = table.group_by("source").aggregate([("source", "count")]).to_pylist()
    newest = pc.max(table["received_at"]).as_py() if table.num_rows else None
    return {
        "records": table.num_rows,
        "validation_records": int(pc.sum(table["validation"]).as_py() or 0),
        # the split the tagged_* metrics are measured on: held-out records a source's tags
        # give a category (their tags never reach training, in either split)
        "tagged_validation_records": table.filter(pc.and_(
            table["validation"], pc.greater_equal(table["tag_category"], 0))).num_rows,
        "training_negatives": table.filter(pc.and_(
            pc.invert(table["validation"]), pc.not_equal(table["negative_text"], ""))).num_rows,
        "records_per_source": {row["source"]: row["source_count"] for row in per_source},
        "newest_record": newest.isoformat() if newest else None,
        "until": until.isoformat() if until else None,
    }


def _padded(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max((len(ids) for ids in sequences), default=1)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, ids in enumerate(sequences):
        input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, : len(ids)] = 1
    return input_ids, attention_mask


class Collator(ArrowBatchCollateFn):
    """Pads the errors, and separately their distinct solutions, to their longest sequence.

    A solution text that repeats within the batch is kept once, so two errors with the same fix
    are never each other's negatives; ``solution_rows`` says which error each of the first
    solutions belongs to. The fixes users said did not work for the batch's errors follow them,
    once each: hard negatives for every error of the batch.
    """

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, batch: pa.Table) -> dict[str, torch.Tensor]:
        errors = batch["input_ids"].to_pylist()
        solutions = batch["solution_ids"].to_pylist()
        texts = batch["solution_text"].to_pylist()
        seen: set[str] = set()
        solved: list[int] = []
        for row, (ids, text) in enumerate(zip(solutions, texts, strict=True)):
            if ids and text not in seen:
                seen.add(text)
                solved.append(row)
        pool = [solutions[row] for row in solved]
        negative_texts = batch["negative_text"].to_pylist()
        negative_ids = batch["negative_ids"].to_pylist()
        for row in solved:
            if negative_ids[row] and negative_texts[row] not in seen:
                seen.add(negative_texts[row])
                pool.append(negative_ids[row])
        input_ids, attention_mask = _padded(errors, self.pad_id)
        solution_ids, solution_mask = _padded(pool, self.pad_id)

        def column(name: str, dtype: torch.dtype) -> torch.Tensor:
            return torch.tensor(batch[name].to_pylist(), dtype=dtype)

        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "solution_input_ids": solution_ids,
            "solution_attention_mask": solution_mask,
            "category": column("category", torch.long),
            "category_weight": column("category_weight", torch.float32),
            "severity": column("severity", torch.long),
            "severity_weight": column("severity_weight", torch.float32),
            "solution_rows": torch.tensor(solved, dtype=torch.long),
        }
