"""The log viewer: the page, history search with a time range, "load older lines" by cursor, the download of a range
as text, and the dropped-lines notice."""

from datetime import UTC, datetime, timedelta

import pytest

from deployments.logs.sinks import DatabaseSink
from deployments.logs.store import log_drops_record
from deployments.views.logs import HISTORY_PAGE

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(make_records):
    """Return store(app, count, start=1, minutes_apart=1, process="web", release=1): "line <start>" at START, the next
    line `minutes_apart` minutes (and a nanosecond) later..."""

    def write(app, count, *, start=1, minutes_apart=1, process="web", release=1):
        stamps = [int((START + timedelta(minutes=n * minutes_apart)).timestamp() * 1e9) + n for n in range(count)]
        container = ("c0ffee000001" if process == "web" else "c0ffee000002").ljust(64, "0")
        records = make_records(
            app, count, start=start, process=process, release=release, container=container, timestamps_ns=stamps
        )
        DatabaseSink().write(records)

    return write


def _history_lines(response) -> list[str]:
    return [line["line"] for line in response.context["lines"]]


def test_the_page_has_the_live_tail_filters_pause_search_and_download(client, members):
    client.force_login(members["viewer"])

    page = client.get("/t/acme/apps/web/logs/").content.decode()

    assert 'data-ws="/ws/tenants/acme/apps/web/logs/"' in page
    for element in ('id="log-process"', 'id="log-release"', 'id="log-text"', 'id="log-pause"', 'id="log-download"'):
        assert element in page
    assert '<label for="id_since">From (UTC)</label>' in page
    assert 'id="log-dropped" class="flash error" role="status" hidden' in page


def test_dropped_lines_are_announced(client, members):
    app = members["app"]
    log_drops_record(counts={app.pk: (app.tenant_id, 42)})
    client.force_login(members["viewer"])

    page = client.get("/t/acme/apps/web/logs/").content.decode()

    assert '<span id="log-dropped-count">42</span> line(s) were dropped' in page
    assert 'role="status" hidden' not in page


def test_search_filters_by_text_process_release_and_time_range(client, members, store):
    app = members["app"]
    store(app, 10)
    store(app, 3, start=21, process="worker", release=2)
    client.force_login(members["viewer"])
    history = "/t/acme/apps/web/logs/history/"

    by_text = client.get(history, {"q": "line 1"})
    by_process = client.get(history, {"process": "worker"})
    by_release = client.get(history, {"release": "2"})
    by_range = client.get(history, {"process": "web", "since": "2026-11-30T08:03", "until": "2026-11-30T08:06"})

    assert _history_lines(by_text) == ["line 1", "line 10"]
    assert _history_lines(by_process) == ["line 21", "line 22", "line 23"]
    assert _history_lines(by_release) == ["line 21", "line 22", "line 23"]
    assert _history_lines(by_range) == ["line 4", "line 5", "line 6"]
    assert "Load older lines" not in by_range.content.decode()


def test_load_older_lines_pages_back_by_cursor(client, members, store):
    store(members["app"], HISTORY_PAGE + 5)
    client.force_login(members["viewer"])

    newest = client.get("/t/acme/apps/web/logs/history/", {"q": "line"})
    older_query = newest.context["older"]
    older = client.get(f"/t/acme/apps/web/logs/history/?{older_query}")

    assert _history_lines(newest)[0] == "line 6"
    assert _history_lines(newest)[-1] == f"line {HISTORY_PAGE + 5}"
    assert "before=" in older_query and "q=line" in older_query
    assert b"Load older lines" in newest.content
    assert _history_lines(older) == ["line 1", "line 2", "line 3", "line 4", "line 5"]
    assert b"Load older lines" not in older.content


def test_a_backwards_range_is_refused_with_what_to_do(client, members):
    client.force_login(members["viewer"])

    response = client.get("/t/acme/apps/web/logs/history/", {"since": "2026-11-30T09:00", "until": "2026-11-30T08:00"})

    assert response.context["error"] == "Form: The start of the range must come before its end."


def test_download_streams_the_range_as_text_oldest_first(client, members, store):
    store(members["app"], 1500, minutes_apart=0)  # more than one page of the sinks
    store(members["app"], 2, start=2001, process="worker", release=2)
    client.force_login(members["viewer"])

    response = client.get("/t/acme/apps/web/logs/download/", {"process": "web"})
    text = b"".join(response.streaming_content).decode()

    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="acme-web-logs-')
    lines = text.splitlines()
    assert len(lines) == 1500
    assert lines[0] == "2026-11-30T08:00:00.000000000Z web.1 v1 line 1"
    assert lines[-1].endswith(" web.1 v1 line 1500")
    assert " worker" not in text


def test_download_of_a_time_range(client, members, store):
    store(members["app"], 10)
    client.force_login(members["viewer"])

    response = client.get("/t/acme/apps/web/logs/download/", {"since": "2026-11-30T08:02", "until": "2026-11-30T08:04"})

    assert [line.split(" ", 3)[-1] for line in b"".join(response.streaming_content).decode().splitlines()] == [
        "line 3",
        "line 4",
    ]


@pytest.mark.parametrize("path", ["", "history/", "download/"])
def test_another_tenants_user_gets_404(client, members, django_user_model, path, store):
    store(members["app"], 3)
    client.force_login(django_user_model.objects.create_user(username="mallory", password="x"))

    response = client.get(f"/t/acme/apps/web/logs/{path}")

    assert response.status_code == 404
    assert b"line 1" not in response.content
