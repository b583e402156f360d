import itertools

import pytest

from deployments.logs.records import LogRecord

CONTAINER = "c0ffee" + "0" * 58


@pytest.fixture
def make_records():
    """Return make(app, count, start=1, process="web", release=1, container=CONTAINER) -> [LogRecord]."""
    clock = itertools.count(1_795_834_801_000_000_000, 1000)

    def make(app, count, *, start=1, process="web", release=1, container=CONTAINER, stream="stdout"):
        return [
            LogRecord(
                tenant_id=app.tenant_id,
                tenant=app.tenant.slug,
                app_id=app.pk,
                app=app.slug,
                release=release,
                process=process,
                index=1,
                container=container,
                stream=stream,
                timestamp_ns=next(clock),
                rank=1,
                line=f"line {n}",
            )
            for n in range(start, start + count)
        ]

    return make
