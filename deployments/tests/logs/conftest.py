"""Fixtures of the log tests that run against the real dockerd: containers they start, and a running collector."""

import pytest

from deployments.engine.client import EngineSpec
from deployments.logs.collector import Collector
from deployments.tests.logs.docker_helpers import Containers


@pytest.fixture
def containers(docker_engine_url):
    """Containers the test starts (named and labelled uniquely); removed at the end."""
    started = Containers(docker_engine_url)
    yield started
    started.close()


@pytest.fixture
def collector(docker_engine_url):
    """A log collector reading the main dockerd, stopped at the end."""
    running = Collector(EngineSpec(name="local", url=docker_engine_url)).start()
    yield running
    running.stop()
