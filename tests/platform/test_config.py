from pathlib import Path

import pytest

from erroracle.errors import ConfigError
from erroracle.platform.config import Config, load_config, parse_duration

REPO = Path(__file__).resolve().parents[2]
DEFAULT = REPO / "erroracle" / "configs" / "platform.yaml"


def test_default_file_matches_the_built_in_defaults():
    assert load_config(DEFAULT, environ={}) == load_config(None, environ={}) == Config()


def test_unknown_key_names_the_key_and_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  learning_rate: 0.1\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert str(path) in str(err.value)
    assert "train.learning_rate" in str(err.value)
    assert "unknown key" in str(err.value)


def test_mistyped_value_names_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("serve:\n  port: eighty\n")
    with pytest.raises(ConfigError, match=r"serve\.port"):
        load_config(path, environ={})


def test_environment_overrides_single_keys_and_names_the_variable():
    cfg = load_config(
        None, environ={"ERRORACLE_TRAIN__LR": "3e-5", "ERRORACLE_SERVE__PORT": "9001"}
    )
    assert cfg.train.lr == 3e-5 and cfg.serve.port == 9001
    with pytest.raises(ConfigError, match="ERRORACLE_TRAIN__NOPE"):
        load_config(None, environ={"ERRORACLE_TRAIN__NOPE": "1"})


def test_data_root_precedence(tmp_path):
    env = {"ERRORACLE_DATA_ROOT": str(tmp_path / "env")}
    assert load_config(None, environ=env).data_root == str(tmp_path / "env")
    flag = load_config(None, environ=env, data_root=str(tmp_path / "flag"))
    assert flag.data_root == str(tmp_path / "flag")
    assert (
        load_config(None, environ={}, data_root="s3://bucket/lake/").data_root == "s3://bucket/lake"
    )


def test_config_file_from_environment(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("loop:\n  crawl_every: 90s\n  train_every: 2h\n")
    cfg = load_config(None, environ={"ERRORACLE_CONFIG": str(path)})
    assert cfg.loop.crawl_every == 90 and cfg.loop.train_every == 7200


def test_bad_yaml_and_missing_file_are_config_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path, environ={})
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml", environ={})


@pytest.mark.parametrize(
    ("value", "seconds"), [(30, 30), ("250ms", 0.25), ("15m", 900), ("1h", 3600)]
)
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


def test_parse_duration_rejects_nonsense():
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_without_a_file_the_bundled_default_is_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no configs/ folder here
    config = load_config(None, environ={})
    assert config == load_config(DEFAULT, environ={})


def test_a_hub_id_or_missing_folder_as_model_base_is_a_config_error(tmp_path):
    for base in ("sentence-transformers/all-MiniLM-L6-v2", str(tmp_path / "absent")):
        with pytest.raises(ConfigError, match="model.base.*not a local encoder folder"):
            load_config(None, data_root=str(tmp_path),
                        environ={"ERRORACLE_MODEL__BASE": base})
