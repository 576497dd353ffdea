"""The ``erroracle`` console script: the command line, or one line saying what to install.

The base install (``pip install erroracle``) is the client library and has no dependencies;
every command needs the platform's. This module imports nothing outside the standard library,
so that a client-only install answers with the line to run instead of a traceback.
"""

from __future__ import annotations

import sys

__all__ = ["main"]

NEEDS_PLATFORM = ("erroracle: error: this command needs the platform: "
                  "pip install 'erroracle[platform]'")
_PLATFORM = {"click", "pyarrow", "ray", "torch", "transformers", "sentence_transformers",
             "safetensors", "aiohttp", "bs4", "praw", "github", "pydantic", "fastapi", "yaml",
             "prometheus_client", "ahocorasick", "bm25s", "jinja2", "itsdangerous",
             "fastapi_offline", "numpy", "packaging", "starlette", "httpx"}


def main(argv: list[str] | None = None) -> None:
    try:
        from erroracle.cli import main as run_command

        run_command(argv)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in _PLATFORM:
            raise
        print(NEEDS_PLATFORM, file=sys.stderr)
        sys.exit(1)
