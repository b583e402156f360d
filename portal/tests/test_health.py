"""The probes: /healthz answers while the process serves; /readyz checks the database and the channel layer."""

import socket

import pytest


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_layer(url: str) -> dict:
    return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}}


def test_healthz(client):
    response = client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.django_db
def test_readyz_with_redis_as_the_channel_layer(client, settings):
    # REDIS_URL is set where the suite runs (make test); the layer is the real Redis.
    assert settings.REDIS_URL, "REDIS_URL must point at the Redis the suite uses"
    settings.CHANNEL_LAYERS = _redis_layer(settings.REDIS_URL)

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "channel_layer": "ok"}}


@pytest.mark.django_db
def test_readyz_names_the_channel_layer_when_redis_is_unreachable(client, settings):
    settings.CHANNEL_LAYERS = _redis_layer(f"redis://127.0.0.1:{_closed_port()}/0")

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["channel_layer"].startswith("error: ")


def test_readyz_refuses_post(client):
    assert client.post("/readyz").status_code == 405
