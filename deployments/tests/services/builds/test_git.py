import functools
import http.server
import socket
import threading

import pytest

from deployments.services.builds.git import GitError, clone, redact, validate
from deployments.tests.services.builds.gitrepos import git, repository


def test_clone_checks_out_a_branch_a_tag_and_a_commit(tmp_path):
    # given
    repo = repository(tmp_path / "repo", {"Dockerfile": b"FROM scratch\n"})
    git(repo, "tag", "v1")
    first = git(repo, "rev-parse", "HEAD")
    (repo / "Dockerfile").write_bytes(b"FROM scratch\nLABEL a=b\n")
    git(repo, "commit", "--quiet", "-am", "second")
    second = git(repo, "rev-parse", "HEAD")
    url = f"file://{repo}"

    # when / then
    assert clone(url, "main", tmp_path / "branch", timeout=30) == second
    assert (tmp_path / "branch" / "Dockerfile").read_bytes() == b"FROM scratch\nLABEL a=b\n"
    assert clone(url, "v1", tmp_path / "tag", timeout=30) == first
    assert (tmp_path / "tag" / "Dockerfile").read_bytes() == b"FROM scratch\n"
    assert clone(url, first, tmp_path / "commit", timeout=30) == first


def test_clone_over_http_from_a_static_server(tmp_path):
    # given: a bare repository served by a plain static HTTP server (git's "dumb" protocol)
    repo = repository(tmp_path / "repo", {"Dockerfile": b"FROM scratch\n"})
    commit = git(repo, "rev-parse", "HEAD")
    git(tmp_path, "clone", "--quiet", "--bare", str(repo), "served.git")
    git(tmp_path / "served.git", "update-server-info")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/served.git"

    try:
        # when
        checked_out = clone(url, "main", tmp_path / "out", timeout=30)
        with pytest.raises(GitError) as raised:
            clone(url, "nope", tmp_path / "out2", timeout=30)
    finally:
        server.shutdown()

    # then
    assert checked_out == commit
    assert (tmp_path / "out" / "Dockerfile").read_bytes() == b"FROM scratch\n"
    assert str(raised.value) == f"the ref 'nope' does not exist in {url}"


def test_clone_of_a_missing_ref_says_so(tmp_path):
    repo = repository(tmp_path / "repo", {"Dockerfile": b"FROM scratch\n"})

    with pytest.raises(GitError) as raised:
        clone(f"file://{repo}", "no-such-branch", tmp_path / "out", timeout=30)

    assert str(raised.value) == f"the ref 'no-such-branch' does not exist in file://{repo}"


def test_clone_gives_up_at_its_time_limit(tmp_path):
    # given: a server that accepts the connection and never answers
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/repo.git"

    try:
        with pytest.raises(GitError) as raised:
            clone(url, "main", tmp_path / "out", timeout=2)
    finally:
        server.close()

    assert str(raised.value) == "git timed out"


@pytest.mark.parametrize(
    ("url", "ref", "message"),
    [
        ("ssh://git@example.com/x.git", "main", "git URLs must start with file://, http://, https://"),
        ("ext::sh -c touch% /tmp/pwned", "main", "git URLs must start with file://, http://, https://"),
        ("https://example.com/x.git", "--upload-pack=touch", "'--upload-pack=touch' is not a valid git ref"),
        ("https://example.com/x.git", "a/../b", "'a/../b' is not a valid git ref"),
    ],
)
def test_validate_refuses_other_transports_and_option_like_refs(url, ref, message):
    with pytest.raises(GitError) as raised:
        validate(url, ref)

    assert str(raised.value).startswith(message)


def test_redact_hides_the_password_of_a_url():
    assert redact("https://bob:hunter2@git.example.com:8443/x.git") == "https://bob:***@git.example.com:8443/x.git"
    assert redact("https://git.example.com/x.git") == "https://git.example.com/x.git"
