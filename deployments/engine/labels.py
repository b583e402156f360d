"""Every label Berth puts on what it creates in an engine, and reads back: the one place their names are written.

Containers carry tenant, app, release, process and index so the real state can always be read back from the hosts
(DESIGN.md); the deployment that started them, so a rollout's leftovers can be told from live ones; the installation,
so two installations sharing an engine leave each other's containers alone; and `berth.managed` on everything Berth
creates. An image declares its process types with `berth.process.<type>=<command>` labels.
"""

MANAGED_LABEL = "berth.managed"
INSTALLATION_LABEL = "berth.installation"
TENANT_LABEL = "berth.tenant"
APP_LABEL = "berth.app"
RELEASE_LABEL = "berth.release"
PROCESS_LABEL = "berth.process"
INDEX_LABEL = "berth.index"
DEPLOYMENT_LABEL = "berth.deployment"
# The prefix of an image's process-type labels: berth.process.web=<command>.
PROCESS_TYPE_LABEL_PREFIX = f"{PROCESS_LABEL}."


def label_filter(label: str, value: str) -> str:
    """Return an engine list filter that matches `label=value`."""
    return f"{label}={value}"


# A secret files' holder container names the app container it holds them for; their tmpfs volumes carry the other.
SECRET_HOLDER_LABEL = "berth.secrets-of"  # noqa: S105 - a label's name, not a secret
SECRET_VOLUME_LABEL = "berth.secrets"  # noqa: S105 - a label's name, not a secret
