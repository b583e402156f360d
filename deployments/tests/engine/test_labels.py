"""The label names are a contract with the hosts: containers started by an older Berth carry the same ones."""

from deployments.engine import labels


def test_the_labels_are_the_documented_names():
    assert (
        labels.TENANT_LABEL,
        labels.APP_LABEL,
        labels.RELEASE_LABEL,
        labels.PROCESS_LABEL,
        labels.INDEX_LABEL,
        labels.DEPLOYMENT_LABEL,
        labels.MANAGED_LABEL,
        labels.INSTALLATION_LABEL,
    ) == (
        "berth.tenant",
        "berth.app",
        "berth.release",
        "berth.process",
        "berth.index",
        "berth.deployment",
        "berth.managed",
        "berth.installation",
    )


def test_an_image_declares_a_process_type_under_the_process_label():
    assert labels.PROCESS_TYPE_LABEL_PREFIX + "web" == "berth.process.web"
    assert labels.label_filter(labels.TENANT_LABEL, "acme") == "berth.tenant=acme"
