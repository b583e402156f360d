"""Register a Docker host: `manage.py addhost NAME ENGINE_URL [--label k=v ...] [--builder]`."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from deployments.selectors import host_list
from deployments.services.hosts import host_create
from portal.errors import ApplicationError


class Command(BaseCommand):
    help = "Register a Docker host by its engine URL (unix:///var/run/docker.sock, or tcp://host:2376 with TLS)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("engine_url")
        parser.add_argument("--label", action="append", default=[], help="k=v, repeatable")
        parser.add_argument("--builder", action="store_true", help="Builds may run on this host.")
        parser.add_argument("--address", default="127.0.0.1", help="Address the router reaches published ports on.")
        parser.add_argument(
            "--routing",
            choices=["port", "network"],
            default="port",
            help="port: web containers publish a port on --address; network: the routers run on this machine and "
            "reach each container on its tenant network (nothing published).",
        )
        parser.add_argument("--capacity-containers", type=int, default=100)
        parser.add_argument("--capacity-memory-mb", type=int, default=16384)
        parser.add_argument("--tls-ca", type=Path, help="PEM file of the CA that signed the engine's certificate.")
        parser.add_argument("--tls-cert", type=Path, help="PEM client certificate.")
        parser.add_argument("--tls-key", type=Path, help="PEM client key.")
        parser.add_argument(
            "--if-no-hosts", action="store_true", help="Do nothing when a host is registered already (`make run`)."
        )

    def handle(self, *args, name, engine_url, label, builder, address, routing, **options):
        if options["if_no_hosts"] and host_list().exists():
            return
        labels = {}
        for item in label:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CommandError(f"--label takes key=value, not {item!r}")
            labels[key] = value
        tls = {}
        for part in ("ca", "cert", "key"):
            path = options[f"tls_{part}"]
            tls[f"tls_{part}"] = path.read_text() if path else ""
        try:
            host = host_create(
                actor=None,
                name=name,
                engine_url=engine_url,
                address=address,
                routing=routing,
                labels=labels,
                is_builder=builder,
                capacity_containers=options["capacity_containers"],
                capacity_memory_mb=options["capacity_memory_mb"],
                **tls,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Host {host.name} added: Docker {host.engine_version}, {host.running_containers} running.")
