"""Retention of uploaded build sources, on real files under BERTH_DATA_DIR."""

import io
import os
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from deployments.models import Build, BuildStatus
from deployments.services.builds import build_create, build_execute
from deployments.services.builds.retention import ORPHAN_GRACE_SECONDS, build_archives_collect, build_archives_prune
from deployments.tests.factories import AppFactory, MembershipFactory
from deployments.tests.services.builds.tarballs import as_bytes, member

pytestmark = [pytest.mark.django_db]

SOURCE = as_bytes([member("Dockerfile", b"FROM scratch\n")])


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    return settings.DATA_DIR


@pytest.fixture
def app(data_dir):
    return AppFactory(tenant__slug="acme", slug="web")


@pytest.fixture
def developer(app):
    return MembershipFactory(tenant=app.tenant, user__username="dev").user


def upload(app, developer, *, status: str, source: bytes = SOURCE) -> Build:
    """A tarball build whose archive is a real file, moved to `status` (as its worker would have)."""
    build = build_create(app=app, actor=developer, archive_file=SimpleUploadedFile("s.tar.gz", source))
    Build.objects.filter(pk=build.pk).update(status=status)
    build.refresh_from_db()
    return build


def archive(build: Build) -> Path:
    return Path(build.source["archive"])


def test_only_the_newest_archives_are_kept_and_never_a_pending_or_running_ones(app, developer, data_dir):
    # given: six builds, the oldest running (its worker still busy), then finished ones, the newest pending
    statuses = [
        BuildStatus.RUNNING,
        BuildStatus.SUCCEEDED,
        BuildStatus.FAILED,
        BuildStatus.CANCELLED,
        BuildStatus.SUCCEEDED,
        BuildStatus.PENDING,
    ]
    builds = [upload(app, developer, status=status) for status in statuses]
    image_build = build_create(app=app, actor=developer, image="registry.test/x:1")
    paths = [archive(build) for build in builds]
    assert all(path.is_file() for path in paths)
    assert paths[0] == data_dir / "builds" / "acme" / "web" / "1.tar"

    # when: two archives are kept
    pruned = build_archives_prune(app=app, keep=2)

    # then: builds 6 (pending) and 5 keep theirs, and so does 1 (running); 2, 3 and 4 lose theirs
    assert pruned.archives == [paths[3], paths[2], paths[1]]
    assert pruned.bytes_freed == 3 * len(SOURCE)
    assert [path.is_file() for path in paths] == [True, False, False, False, True, True]
    archives = dict(Build.objects.filter(app=app).values_list("number", "source__archive"))
    assert archives == {1: str(paths[0]), 2: "", 3: "", 4: "", 5: str(paths[4]), 6: str(paths[5]), 7: None}
    # a build that lost its archive keeps everything else
    assert Build.objects.get(pk=builds[1].pk).source == {"archive": "", "dockerfile": "Dockerfile", "build_args": {}}
    assert Build.objects.get(pk=image_build.pk).source == {"image": "registry.test/x:1"}
    # and a second pass finds nothing more to do
    assert build_archives_prune(app=app, keep=2).archives == []


def test_a_finishing_build_prunes_its_apps_archives_to_the_setting(app, developer, settings):
    # given: BERTH_BUILD_KEEP_ARCHIVES=1 and an older finished build of the app, and one of another app
    settings.BERTH_BUILD_KEEP_ARCHIVES = 1
    older = upload(app, developer, status=BuildStatus.SUCCEEDED)
    other_app = AppFactory(tenant=app.tenant, slug="api")
    elsewhere = upload(other_app, developer, status=BuildStatus.SUCCEEDED)
    # a source without a Dockerfile fails before it reaches any engine
    newest = build_create(
        app=app,
        actor=developer,
        archive_file=SimpleUploadedFile("s.tar.gz", as_bytes([member("Procfile", b"web: x\n")])),
    )

    # when
    newest = build_execute(build_id=newest.pk)

    # then: the build ended, and only its own archive is left of its app's
    assert newest.status == BuildStatus.FAILED
    assert "no Dockerfile" in newest.error
    assert not archive(older).exists()
    assert Build.objects.get(pk=older.pk).source["archive"] == ""
    assert archive(newest).is_file()
    assert archive(elsewhere).is_file()


def test_the_command_catches_up_and_removes_old_orphans_only(app, developer, data_dir):
    # given: three finished builds, an old archive no build names (its app was deleted) and a fresh one (an upload
    # whose build is not committed yet)
    builds = [upload(app, developer, status=BuildStatus.SUCCEEDED) for _ in range(3)]
    gone_app = data_dir / "builds" / "acme" / "deleted-app"
    gone_app.mkdir(parents=True)
    old_orphan = gone_app / "4.tar"
    old_orphan.write_bytes(b"x" * 10)
    past = time.time() - ORPHAN_GRACE_SECONDS - 60
    os.utime(old_orphan, (past, past))
    fresh_orphan = data_dir / "builds" / "acme" / "web" / "99.tar"
    fresh_orphan.write_bytes(b"y" * 10)

    # when: a dry run, then a real one
    dry = build_archives_collect(keep=1, dry_run=True)
    assert (dry.archives, dry.orphans) == ([archive(builds[1]), archive(builds[0])], [old_orphan])
    assert all(archive(build).is_file() for build in builds) and old_orphan.is_file()
    out = io.StringIO()
    call_command("prune_build_archives", "--keep", "1", stdout=out)

    # then
    assert [archive(build).is_file() for build in builds] == [False, False, True]
    assert not old_orphan.exists()
    assert fresh_orphan.is_file()
    assert out.getvalue().splitlines() == [
        f"deleted 2 archives of old builds and 1 orphan archives, {2 * len(SOURCE) + 10} bytes.",
        f"  build archive {archive(builds[1])}",
        f"  build archive {archive(builds[0])}",
        f"  orphan {old_orphan}",
    ]
