"""/api/docs/ is served whole by Berth: Swagger UI's scripts and styles come from its own static files."""

import re

import pytest

pytestmark = pytest.mark.django_db


def _asset_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)


def test_docs_page_loads_swagger_ui_from_berths_own_static_files(client):
    html = client.get("/api/docs/").content.decode()

    # The page's own set-up script is a file of its own (`?script`): the CSP allows no inline script.
    urls = _asset_urls(html)
    static = [url for url in urls if url != "/api/docs/?script="]
    assert sorted(url.rsplit("/", 1)[-1] for url in static) == [
        "favicon-32x32.png",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "swagger-ui.css",
    ]
    assert "/api/docs/?script=" in urls
    assert all(url.startswith("/static/drf_spectacular_sidecar/") for url in static)
    assert "//" not in "".join(urls)
    assert "<script>" not in html.replace(" ", "")
    assert '"validatorUrl": null' in client.get("/api/docs/?script=").content.decode()


def test_every_asset_of_the_docs_page_is_served(client):
    html = client.get("/api/docs/").content.decode()

    statuses = {url.rsplit("/", 1)[-1]: client.get(url).status_code for url in _asset_urls(html)}

    assert statuses == {
        "?script=": 200,
        "favicon-32x32.png": 200,
        "swagger-ui-bundle.js": 200,
        "swagger-ui-standalone-preset.js": 200,
        "swagger-ui.css": 200,
    }
