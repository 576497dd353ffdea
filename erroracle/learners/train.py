"""Ray Train: the per-worker training loop and the one ``build_trainer`` that train and tune share.

Each worker reads its shard with ``ray.train.get_dataset_shard``, wraps the model with
``prepare_model`` (DDP across workers) and runs exactly ``max_steps`` optimizer steps, re-reading
its shard as often as needed, so every worker takes part in every gradient all-reduce. Every
``checkpoint_every`` steps and at the end, all workers report (measuring the validation shard
first when asked to, as Tune's trials are); rank 0 attaches a safetensors checkpoint. After a
worker dies, Ray Train restarts the group (``FailureConfig``) and the loop resumes from
``ray.train.get_checkpoint()``.

Example:
    >>> trainer = build_trainer(config, data, hp, storage_path="/runs", name="r1")  # doctest: +SKIP
    >>> result = trainer.fit()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import torch
import torch.distributed as dist

from erroracle.learners.checkpoint import load_checkpoint, save_checkpoint
from erroracle.learners.data import Collator, TrainingData
from erroracle.learners.model import ErrorModel, LabelSpace, load_model, new_model
from erroracle.learners.objective import LossWeights, total_loss
from erroracle.learners.schedule import build_optimizer, build_scheduler
from erroracle.platform.config import Config, TrainConfig

__all__ = ["EVAL_BATCH_SIZE", "build_trainer", "train_loop_per_worker"]

# Validation batches have a fixed size so that in-batch retrieval accuracy is comparable
# between trials that train with different batch sizes.
EVAL_BATCH_SIZE = 32
_FAIL_DELAY_S = 5.0
#: Rows mixed, and then sorted by length, at a time when training batches are drawn (token ids
#: of 256 at most: a few MB).
SHUFFLE_ROWS = 2_048


def _initial_model(config: dict[str, Any]) -> tuple[ErrorModel, dict[str, Any] | None, int]:
    import ray.train

    checkpoint = ray.train.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as folder:
            return load_checkpoint(folder)
    if config["init_model"]:
        return load_model(config["init_model"], dropout=config["train"]["dropout"]), None, 0
    labels = LabelSpace.from_json(config["labels"])
    model = new_model(
        config["base"], labels, dropout=config["train"]["dropout"],
        max_length=config["max_length"], seed=config["train"]["seed"],
    )
    return model, None, 0


def _solution_embeddings(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Solutions are encoded without gradient: the contrastive loss trains the (shared) encoder
    through the error side only, which saves the backward pass of the longer texts."""
    if batch["solution_rows"].numel() == 0:
        return batch["solution_input_ids"].new_zeros((0, 1), dtype=torch.float32)
    with torch.no_grad():
        return model(batch["solution_input_ids"], batch["solution_attention_mask"]).embedding


def _batches(shard, batch_size: int, collate: Collator, device: torch.device,
             shuffle_seed: int | None = None):
    """Batches on the device, in the shard's order; or, with ``shuffle_seed``, mixed.

    Mixed means: rows are shuffled in a buffer (the lake's files arrive in their own order: the
    knowledge base, then the crawls, then the apps), taken ``SHUFFLE_ROWS`` at a time, sorted by
    length within that window and cut into batches whose order is shuffled again. A batch is
    padded to its longest text, so batches of similar lengths cost the least; a seed per pass
    gives each pass another order.
    """
    if shuffle_seed is None:
        for batch in shard.iter_torch_batches(batch_size=batch_size, collate_fn=collate):
            yield {name: tensor.to(device) for name, tensor in batch.items()}
        return
    order = random.Random(shuffle_seed)
    windows = shard.iter_batches(batch_size=SHUFFLE_ROWS, batch_format="pyarrow",
                                 local_shuffle_buffer_size=SHUFFLE_ROWS,
                                 local_shuffle_seed=shuffle_seed)
    for window in windows:
        lengths = pc.list_value_length(window["input_ids"]).to_numpy(zero_copy_only=False)
        by_length = lengths.argsort(kind="stable")
        chunks = [by_length[i : i + batch_size] for i in range(0, len(by_length), batch_size)]
        order.shuffle(chunks)
        for rows in chunks:
            batch = collate(window.take(rows))
            yield {name: tensor.to(device) for name, tensor in batch.items()}


def _all_sum(values: list[float], device: torch.device) -> list[float]:
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(tensor)
    return tensor.tolist()


@torch.no_grad()
def _validate(model, shard, collate, device, weights: LossWeights) -> dict[str, float]:
    """Validation loss (unit loss weights) and a score comparable across trials."""
    model.eval()
    unit = LossWeights(1.0, 1.0, 1.0, weights.temperature)
    sums = [0.0] * 8  # loss, batches, cat ok, cat n, sev ok, sev n, retrieval ok, retrieval n
    for batch in _batches(shard, EVAL_BATCH_SIZE, collate, device):
        solutions = _solution_embeddings(model, batch)
        output = model(batch["input_ids"], batch["attention_mask"])
        loss, _ = total_loss(output, solutions, batch, unit)
        sums[0] += float(loss)
        sums[1] += 1
        for offset, head in ((2, "category"), (4, "severity")):
            known = batch[head] >= 0
            logits = getattr(output, f"{head}_logits")
            sums[offset] += float((logits.argmax(-1)[known] == batch[head][known]).sum())
            sums[offset + 1] += float(known.sum())
        paired = batch["solution_rows"]
        if len(paired) > 1:
            scores = output.embedding[paired] @ solutions.T
            hits = scores.argmax(-1) == torch.arange(len(paired), device=device)
            sums[6] += float(hits.sum())
            sums[7] += float(len(paired))
    model.train()
    total = _all_sum(sums, device)
    accuracies = [total[i] / total[i + 1] for i in (2, 4, 6) if total[i + 1]]
    return {
        "val_loss": total[0] / total[1] if total[1] else float("nan"),
        "val_score": sum(accuracies) / len(accuracies) if accuracies else 0.0,
    }


def _maybe_fail(config: dict[str, Any], step: int, rank: int, world: int) -> None:
    """Test hook: the last worker dies once, for real, at ``fail_once_at_step``."""
    marker = config.get("fail_marker")
    failing = config.get("fail_once_at_step") == step and rank == world - 1
    if failing and marker and not os.path.exists(marker):
        Path(marker).parent.mkdir(parents=True, exist_ok=True)
        Path(marker).write_text(str(step))
        # Ray Train's controller takes in reported checkpoints when it polls the workers (every
        # 2 s by default); die after that, as a worker lost in a real run has run for a while.
        time.sleep(_FAIL_DELAY_S)
        os._exit(1)


def train_loop_per_worker(config: dict[str, Any]) -> None:
    """The Ray Train worker function (``config`` is built by :func:`build_trainer`)."""
    import ray.train
    import ray.train.torch
    from ray.train import Checkpoint

    hp = TrainConfig(**config["train"])
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    torch.manual_seed(hp.seed + rank)
    model, optimizer_state, step = _initial_model(config)
    resumed_from = step
    model.dropout.p = hp.dropout
    model.freeze(hp.trainable_layers)
    device = ray.train.torch.get_device()
    wrapped = ray.train.torch.prepare_model(model)
    optimizer = build_optimizer(model, lr=hp.lr, weight_decay=hp.weight_decay)
    if optimizer_state:
        optimizer.load_state_dict(optimizer_state)
    scheduler = build_scheduler(
        optimizer, warmup_steps=hp.warmup_steps, total_steps=hp.max_steps, decay=hp.decay,
        last_step=step - 1,
    )
    weights = LossWeights(hp.category_weight, hp.severity_weight, hp.retrieval_weight,
                          hp.temperature)
    collate = Collator(model.tokenizer.pad_token_id)
    train_shard = ray.train.get_dataset_shard("train")
    validation_shard = ray.train.get_dataset_shard("validation")
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda"
        else contextlib.nullcontext()
    )
    window_loss, window_steps, window_samples, window_start = 0.0, 0, 0, time.perf_counter()
    passes = 0
    while step < hp.max_steps:
        empty = True
        seed = hp.seed + 7_919 * passes + rank
        passes += 1
        for batch in _batches(train_shard, hp.batch_size, collate, device, shuffle_seed=seed):
            empty = False
            _maybe_fail(config, step, rank, world)
            with autocast:
                # the unwrapped module: DDP broadcasts buffers at every forward, so a gradient-
                # free pass through it, which only batches with solutions make, would leave the
                # ranks' collectives out of step (gloo aborts with mismatched sizes)
                solutions = _solution_embeddings(model, batch)
                output = wrapped(batch["input_ids"], batch["attention_mask"])
                loss, parts = total_loss(output, solutions, batch, weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), hp.grad_clip)
            optimizer.step()
            scheduler.step()
            step += 1
            window_loss += float(loss.detach())
            window_steps += 1
            window_samples += batch["category"].shape[0]
            if rank == 0 and step % hp.log_every == 0:
                rate = window_samples / (time.perf_counter() - window_start)
                print(f"step {step}/{hp.max_steps} loss {window_loss / window_steps:.4f} "
                      f"lr {scheduler.get_last_lr()[0]:.2e} {rate * world:.1f} samples/s",
                      flush=True)
            if step % hp.checkpoint_every == 0 or step == hp.max_steps:
                elapsed = time.perf_counter() - window_start
                metrics = {
                    "step": step, "loss": window_loss / window_steps,
                    "samples_per_s": window_samples * world / elapsed,
                    "lr": scheduler.get_last_lr()[0], "resumed_from_step": resumed_from,
                    **parts,
                    **(_validate(model, validation_shard, collate, device, weights)
                       if config["validate"] else {}),
                }
                with tempfile.TemporaryDirectory() as folder:
                    checkpoint = None
                    if rank == 0:
                        save_checkpoint(folder, model, optimizer, step, metrics)
                        checkpoint = Checkpoint.from_directory(folder)
                    ray.train.report(metrics, checkpoint=checkpoint)
                window_loss, window_steps, window_samples = 0.0, 0, 0
                window_start = time.perf_counter()
            if step >= hp.max_steps:
                break
        if empty:
            raise RuntimeError(f"worker {rank} received no training examples")


def build_trainer(
    config: Config, data: TrainingData, train: TrainConfig, *, storage_path: str,
    name: str, init_model: str | Path | None = None, callbacks: list[Any] | None = None,
    fail_once_at_step: int | None = None, validate: bool = True,
):
    """The ``TorchTrainer`` of one training run, for ``erroracle train`` and each Tune trial.

    Args:
        config: the installation's configuration (model base and length).
        data: the tokenised splits from :func:`learners.data.build_datasets`.
        train: the effective hyperparameters (see :func:`learners.hparams.effective_train_config`).
        storage_path: where Ray Train keeps checkpoints (shared storage on a cluster).
        name: the run's folder under ``storage_path``.
        init_model: the champion's directory to start from; None starts from the base encoder.
        callbacks: Ray Train callbacks (Tune passes its report callback).
        fail_once_at_step: test hook; the last worker exits once at this step.
        validate: measure the validation shard at every checkpoint (Tune ranks trials by it); a
            round leaves it out, since its candidate is evaluated on the whole held-out split
            afterwards (on 10,000 records, three passes over 2,000 held-out examples).
    """
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    loop_config = {
        "train": train.model_dump(),
        "labels": data.labels.to_json(),
        "base": config.model.base,
        "max_length": config.model.max_length,
        "init_model": str(init_model) if init_model else None,
        "validate": validate,
        "fail_once_at_step": fail_once_at_step,
        "fail_marker": str(Path(storage_path) / name / ".failed-once") if fail_once_at_step
        else None,
    }
    return TorchTrainer(
        train_loop_per_worker,
        train_loop_config=loop_config,
        scaling_config=ScalingConfig(
            num_workers=train.workers, use_gpu=train.use_gpu,
            resources_per_worker={"CPU": train.cpus_per_worker},
            placement_strategy=train.placement_strategy,
        ),
        datasets={"train": data.train, "validation": data.validation},
        run_config=RunConfig(
            name=name,
            storage_path=storage_path,
            failure_config=FailureConfig(max_failures=train.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
            callbacks=callbacks,
        ),
    )
