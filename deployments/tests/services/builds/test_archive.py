import tarfile

import pytest

from deployments.services.builds.archive import UnsafeArchive, declared_build_args, parse_procfile, sanitize
from deployments.tests.services.builds.tarballs import DOCKERFILE, member, write

MB = 1024 * 1024


def _names(path) -> list[str]:
    with tarfile.open(path) as tar:
        return tar.getnames()


def test_sanitize_repacks_a_good_context_and_reads_dockerfile_and_procfile(tmp_path):
    # given
    source = write(
        tmp_path / "src.tar.gz",
        [
            member("./", type=tarfile.DIRTYPE),
            member("./Dockerfile", DOCKERFILE),
            member("./Procfile", b"web: httpd -f\n# comment\nworker: sh worker.sh\n"),
            member("./app", type=tarfile.DIRTYPE, mode=0o755),
            member("./app/run.sh", b"echo hi\n", mode=0o4755, uid=1234, uname="mallory"),
            member("./app/link", type=tarfile.SYMTYPE, linkname="run.sh"),
            member("./app/up", type=tarfile.SYMTYPE, linkname="../Dockerfile"),
            member("./app/hard", type=tarfile.LNKTYPE, linkname="app/run.sh"),
        ],
    )
    # when
    summary = sanitize(source, tmp_path / "ctx.tar", max_bytes=MB)
    # then
    assert summary.dockerfile == "Dockerfile"
    assert summary.dockerfile_text == DOCKERFILE.decode()
    assert summary.procfile == {"web": "httpd -f", "worker": "sh worker.sh"}
    assert summary.size_bytes == len(DOCKERFILE) + len(b"web: httpd -f\n# comment\nworker: sh worker.sh\n") + 8
    assert _names(tmp_path / "ctx.tar") == [
        "Dockerfile",
        "Procfile",
        "app",
        "app/run.sh",
        "app/link",
        "app/up",
        "app/hard",
    ]
    with tarfile.open(tmp_path / "ctx.tar") as tar:
        script = tar.getmember("app/run.sh")
        assert (script.mode, script.uid, script.uname) == (0o755, 0, "")
        assert tar.extractfile(script).read() == b"echo hi\n"


def test_sanitize_accepts_a_dockerfile_at_a_given_path(tmp_path):
    source = write(tmp_path / "src.tar", [member("docker/web.Dockerfile", DOCKERFILE)], mode="w")

    summary = sanitize(source, tmp_path / "ctx.tar", dockerfile="docker/web.Dockerfile", max_bytes=MB)

    assert (summary.dockerfile, summary.dockerfile_text) == ("docker/web.Dockerfile", DOCKERFILE.decode())


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ([member("/etc/passwd", b"x")], "archive member '/etc/passwd' has an absolute path"),
        ([member("../outside", b"x")], "archive member '../outside' climbs out of the context with '..'"),
        ([member("a/../../outside", b"x")], "archive member 'a/../../outside' climbs out of the context with '..'"),
        (
            [member("link", type=tarfile.SYMTYPE, linkname="../../etc/shadow")],
            "symlink 'link' points outside the context ('../../etc/shadow')",
        ),
        (
            [member("a/b/link", type=tarfile.SYMTYPE, linkname="../../..")],
            "symlink 'a/b/link' points outside the context ('../../..')",
        ),
        (
            [member("link", type=tarfile.SYMTYPE, linkname="/etc/shadow")],
            "symlink 'link' points to the absolute path '/etc/shadow'",
        ),
        (
            [member("hard", type=tarfile.LNKTYPE, linkname="etc/passwd")],
            "hard link 'hard' points to 'etc/passwd', which is not a file of the archive",
        ),
        ([member("null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)], "archive member 'null' is a device file"),
        ([member("sda", type=tarfile.BLKTYPE, devmajor=8, devminor=0)], "archive member 'sda' is a device file"),
        ([member("pipe", type=tarfile.FIFOTYPE)], "archive member 'pipe' is a FIFO"),
        ([member("Procfile", b"web: x")], "no Dockerfile: the archive has no file named 'Dockerfile' at its root"),
    ],
)
def test_sanitize_refuses_unsafe_members_and_keeps_nothing(tmp_path, members, reason):
    source = write(tmp_path / "src.tar.gz", [member("Dockerfile", DOCKERFILE), *members])
    if reason.startswith("no Dockerfile"):
        source = write(tmp_path / "src.tar.gz", members)

    with pytest.raises(UnsafeArchive) as raised:
        sanitize(source, tmp_path / "ctx.tar", max_bytes=MB)

    assert str(raised.value) == reason
    assert not (tmp_path / "ctx.tar").exists()


def test_sanitize_stops_a_compression_bomb_at_the_uncompressed_limit(tmp_path):
    # given: 8 MB of zeros compress to a few kilobytes
    source = write(tmp_path / "bomb.tar.gz", [member("Dockerfile", DOCKERFILE), member("zeros", bytes(8 * MB))])
    assert source.stat().st_size < 64 * 1024

    with pytest.raises(UnsafeArchive) as raised:
        sanitize(source, tmp_path / "ctx.tar", max_bytes=MB)

    assert str(raised.value) == "the archive holds more than 1 MB once uncompressed (the limit of a build context)"
    assert not (tmp_path / "ctx.tar").exists()


def test_sanitize_refuses_what_is_not_a_tar_archive(tmp_path):
    source = tmp_path / "src.zip"
    source.write_bytes(b"PK\x03\x04 not a tar")

    with pytest.raises(UnsafeArchive) as raised:
        sanitize(source, tmp_path / "ctx.tar", max_bytes=MB)

    assert str(raised.value).startswith("the source is not a readable tar or tar.gz archive")


def test_parse_procfile_skips_comments_and_invalid_lines():
    assert parse_procfile("web: a b\n\n# x\nBad: y\nrelease: migrate\n") == {"web": "a b", "release": "migrate"}


def test_declared_build_args_reads_every_arg_form():
    text = "ARG A\nFROM scratch\narg B=1 C\nARG \\\n  D=2\nRUN echo $E\n"

    assert declared_build_args(text) == {"A", "B", "C", "D"}
