"""A Docker host of its own for garbage-collection tests: host 3, which no other test suite uses.

GC removes every dangling image of the engine it runs on, so it never runs against the main engine, which other
suites and their session-built images share.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import docker
import pytest

REPO_DIR = Path(__file__).resolve().parents[3]
THIRD_ENGINE_URL = "unix:///run/berth-docker-3.sock"


@pytest.fixture(scope="session")
def third_docker_engine_url(docker_engine_url: str) -> str:
    """Return the URL of extra Docker host 3, started by scripts/services.sh with hosts 2 and 3."""
    result = subprocess.run(
        ["bash", str(REPO_DIR / "scripts" / "services.sh"), "--extra-hosts", "2"],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"scripts/services.sh --extra-hosts 2 failed with status {result.returncode}:\n"
            f"{result.stdout}{result.stderr}",
            pytrace=False,
        )
    try:
        client = docker.DockerClient(base_url=THIRD_ENGINE_URL, timeout=120)
        client.ping()
    except docker.errors.DockerException as error:
        pytest.fail(f"dockerd at {THIRD_ENGINE_URL} does not answer: {error}", pytrace=False)
    client.close()
    return THIRD_ENGINE_URL
