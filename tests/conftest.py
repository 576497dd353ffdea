"""Shared fixtures. Tests never reach a hub: the bundled model is loaded from site-packages."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The third-party data beside the project; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running the real ``erroracle`` command in a subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ERRORACLE_")}
    env["ERRORACLE_DATA_ROOT"] = str(tmp_path / "lake")
    return env


ERRORACLE = [sys.executable, "-m", "erroracle"]
