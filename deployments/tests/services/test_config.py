import threading

import pytest
from django.db import connection

from deployments import crypto
from deployments.models import App, ConfigVar, Release
from deployments.services.apps import app_create
from deployments.services.config import config_files, config_masked, config_reveal, config_update
from deployments.services.rollouts.plan import release_env, release_files
from deployments.tests.factories import MembershipFactory, TenantFactory, UserFactory
from portal.errors import ApplicationError, Conflict
from tenants.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_config_update_sets_and_unsets_with_heroku_semantics(app, alice):
    config_update(app=app, values={"FOO": "1", "BAR": "2", "GONE": "x"}, actor=alice)

    release = config_update(app=app, values={"FOO": "10", "GONE": None, "NEW": "n"}, actor=alice)

    assert config_masked(app=app) == {"BAR": "2", "FOO": "10", "NEW": "n"}
    assert (release.version, release.summary) == (3, "alice added NEW, changed FOO, removed GONE")
    assert release.config == {
        "BAR": {"value": "2", "secret": False},
        "FOO": {"value": "10", "secret": False},
        "NEW": {"value": "n", "secret": False},
    }


def test_config_update_that_changes_nothing_is_refused(app, alice):
    config_update(app=app, values={"FOO": "1"}, actor=alice)

    with pytest.raises(Conflict, match="No change: every config var already has the value you sent") as error:
        config_update(app=app, values={"FOO": "1", "MISSING": None}, actor=alice)

    assert error.value.code == "no_change"
    assert Release.objects.filter(app=app).count() == 2


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "Send an object of config vars"),
        ({"1BAD": "x"}, "1BAD: Use letters, digits and underscores"),
        ({"PORT": "80"}, "PORT: This key is reserved"),
        ({"BERTH_X": "1"}, "BERTH_X: This key is reserved"),
        ({"N": 5}, 'N: Use a string, null, or {"value": "...", "secret": true}.'),
        ({"N": {"value": "x", "secret": "yes"}}, "N: secret must be true or false."),
        ({"N": {"value": "x", "other": 1}}, "N: Unknown field(s) other; use value, secret and file."),
        ({"N": {"secret": True}}, "N: There is no such config var to mark; give it a value."),
        ({"N": "a\x00b"}, "N: The value contains a NUL byte"),
    ],
)
def test_config_update_refuses_invalid_input_and_changes_nothing(app, alice, values, message):
    with pytest.raises(ApplicationError) as error:
        config_update(app=app, values=values, actor=alice)

    assert error.value.message.startswith(message)
    assert ConfigVar.objects.count() == 0
    assert Release.objects.filter(app=app).count() == 1


def test_a_secret_is_encrypted_at_rest_and_masked(app, alice):
    release = config_update(app=app, values={"DB_PASSWORD": {"value": "hunter2", "secret": True}}, actor=alice)

    var = ConfigVar.objects.get(app=app, key="DB_PASSWORD")
    assert var.secret is True
    assert "hunter2" not in var.value
    assert crypto.decrypt(var.value) == "hunter2"
    assert crypto.decrypt(release.config["DB_PASSWORD"]["value"]) == "hunter2"
    assert config_masked(app=app) == {"DB_PASSWORD": "********"}
    assert AuditEvent.objects.get(action="config.update").diff == {
        "added": {"DB_PASSWORD": "********"},
        "changed": {},
        "removed": [],
    }


def test_a_plain_string_on_a_secret_keeps_it_secret_and_the_mask_keeps_its_value(app, alice):
    config_update(app=app, values={"TOKEN": {"value": "one", "secret": True}}, actor=alice)

    with pytest.raises(Conflict):
        config_update(app=app, values={"TOKEN": "********"}, actor=alice)
    config_update(app=app, values={"TOKEN": "two"}, actor=alice)

    var = ConfigVar.objects.get(app=app, key="TOKEN")
    assert (var.secret, crypto.decrypt(var.value)) == (True, "two")
    assert AuditEvent.objects.filter(action="config.update").first().diff["changed"] == {
        "TOKEN": ["********", "********"]
    }


def test_a_var_can_be_marked_secret_and_back(app, alice):
    config_update(app=app, values={"KEY": "v"}, actor=alice)

    marked = config_update(app=app, values={"KEY": {"secret": True}}, actor=alice)
    unmarked = config_update(app=app, values={"KEY": {"value": "w", "secret": False}}, actor=alice)

    assert marked.summary == unmarked.summary == "alice changed KEY"
    assert crypto.decrypt(marked.config["KEY"]["value"]) == "v"
    assert ConfigVar.objects.get(app=app, key="KEY").value == "w"


def test_config_reveal_returns_the_value_and_audits_the_key_only(app, olivia):
    config_update(app=app, values={"TOKEN": {"value": "s3cr3t", "secret": True}, "PLAIN": "p"}, actor=olivia)

    assert config_reveal(app=app, keys=["TOKEN"], actor=olivia) == {"TOKEN": "s3cr3t"}

    event = AuditEvent.objects.get(action="config.reveal")
    assert (event.actor_name, event.diff) == ("olivia", {"keys": ["TOKEN"]})
    with pytest.raises(ApplicationError, match="No such config var: NOPE"):
        config_reveal(app=app, keys=["NOPE"], actor=olivia)


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_config_changes_get_versions_2_to_21_without_gap_or_duplicate():
    # given: an app at v1, committed, so other connections see it
    tenant = TenantFactory(slug="race")
    alice = MembershipFactory(tenant=tenant, user=UserFactory(username="alice")).user
    app = app_create(tenant=tenant, slug="web", actor=alice)
    barrier = threading.Barrier(20)
    errors = []

    def change(index: int) -> None:
        try:
            # Each thread has its own database connection; the barrier releases all twenty at once.
            own_app = App.objects.get(pk=app.pk)
            barrier.wait(timeout=30)
            config_update(app=own_app, values={f"KEY_{index}": str(index)}, actor=alice)
        except Exception as error:  # collected and asserted on below
            errors.append(error)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=change, args=(index,)) for index in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then
    assert errors == []
    versions = list(Release.objects.filter(app=app).order_by("version").values_list("version", flat=True))
    assert versions == list(range(1, 22))
    latest = Release.objects.get(app=app, version=21)
    assert sorted(latest.config) == sorted(f"KEY_{index}" for index in range(20))
    # Each release holds exactly the keys of the releases before it plus its own.
    sizes = [len(release.config) for release in Release.objects.filter(app=app).order_by("version")]
    assert sizes == list(range(0, 21))


def test_a_secret_file_is_always_secret_and_kept_out_of_the_environment(app, alice):
    # when
    release = config_update(
        app=app, values={"DB_PEM": {"value": "-----PEM-----", "file": "/run/secrets/db.pem"}, "A": "1"}, actor=alice
    )

    # then
    var = ConfigVar.objects.get(app=app, key="DB_PEM")
    assert (var.secret, var.file) == (True, "/run/secrets/db.pem")
    assert crypto.decrypt(var.value) == "-----PEM-----"
    assert config_masked(app=app) == {"A": "1", "DB_PEM": "********"}
    assert config_files(app=app) == {"DB_PEM": "/run/secrets/db.pem"}
    assert release.config["DB_PEM"]["file"] == "/run/secrets/db.pem"
    assert "file" not in release.config["A"]
    assert release_env(release=release, process_type="web", port=5000)["A"] == "1"
    assert "DB_PEM" not in release_env(release=release, process_type="web", port=5000)
    assert release_files(release=release) == {"/run/secrets/db.pem": b"-----PEM-----"}
    event = AuditEvent.objects.get(action="config.update")
    assert event.diff["files"] == {"DB_PEM": "/run/secrets/db.pem"}
    assert "-----PEM-----" not in str(event.diff)


def test_a_secret_file_moves_and_turns_back_into_a_secret_variable(app, alice):
    config_update(app=app, values={"K": {"value": "v", "file": "/run/secrets/k"}}, actor=alice)

    moved = config_update(app=app, values={"K": {"file": "/etc/app/.k"}}, actor=alice)
    back = config_update(app=app, values={"K": {"file": ""}}, actor=alice)

    assert moved.config["K"]["file"] == "/etc/app/.k"
    assert moved.summary == "alice changed K"
    assert "file" not in back.config["K"] and back.config["K"]["secret"] is True
    assert release_env(release=back, process_type="web", port=5000)["K"] == "v"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"K": {"value": "v", "file": "run/k"}}, "K: The file path must be absolute"),
        ({"K": {"value": "v", "file": "/run/secrets/../k"}}, "K: The file path must be normalised"),
        ({"K": {"value": "v", "file": "/etc/k"}}, "K: /etc cannot hold a secret file"),
        ({"K": {"value": "v", "file": "/k"}}, "K: / cannot hold a secret file"),
        ({"K": {"value": "v", "file": "/run/a:b"}}, "K: The file path is too long or holds a character"),
        ({"K": {"value": "v", "file": 3}}, "K: file must be a path in the container"),
        ({"K": {"value": "v", "file": "/run/s/k", "secret": False}}, "K: A secret file is always secret"),
        (
            {"A": {"value": "v", "file": "/run/s/k"}, "B": {"value": "w", "file": "/run/s/k"}},
            "B: A is already the file /run/s/k",
        ),
        (
            {"A": {"value": "v", "file": "/run/s/k"}, "B": {"value": "w", "file": "/run/s/sub/k"}},
            "B: /run/s/sub/k and /run/s/k are in nested directories",
        ),
    ],
)
def test_a_bad_secret_file_is_refused_and_changes_nothing(app, alice, values, message):
    with pytest.raises(ApplicationError) as error:
        config_update(app=app, values=values, actor=alice)

    assert error.value.message.startswith(message), error.value.message
    assert ConfigVar.objects.count() == 0
    assert Release.objects.filter(app=app).count() == 1
