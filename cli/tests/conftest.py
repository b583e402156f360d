"""Fixtures of the CLI's tests: a fake API in a thread, and a clean environment for each run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from .fakeapi import FakeApi

CLI_DIR = Path(__file__).resolve().parent.parent
if str(CLI_DIR) not in sys.path:
    sys.path.insert(0, str(CLI_DIR))


@pytest.fixture
def fake_api():
    api = FakeApi()
    api.start()
    yield api
    api.stop()


@pytest.fixture
def cli_env(monkeypatch, tmp_path, fake_api):
    """Point the CLI at the fake API with a token, and keep it away from the real ~/.config."""
    for name in ("BERTH_TENANT", "BERTH_APP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BERTH_URL", fake_api.url)
    monkeypatch.setenv("BERTH_TOKEN", "brt_testtoken")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return fake_api


@pytest.fixture
def berth(cli_env, capsys):
    """Run the CLI in-process: berth("apps", "-t", "acme") -> (exit status, stdout, stderr)."""
    from berth_cli.main import main

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
