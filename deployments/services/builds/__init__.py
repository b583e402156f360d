"""Builds: a customer's source (an archive, a git repository or an image) in, a pushed image and a release out.

core.py creates, queues and runs a build; input.py checks what a request may carry; archive.py and git.py turn
untrusted sources into safe build contexts; log.py streams a build's log; cancel.py stops one; retention.py keeps the
uploaded sources of an app's last builds. The services other layers call are re-exported here.
"""

from deployments.services.builds.cancel import build_cancel
from deployments.services.builds.core import BuildFailed, build_create, build_enqueue, build_execute, builder_spec
from deployments.services.builds.retention import build_archives_collect, build_archives_prune

__all__ = [
    "BuildFailed",
    "build_archives_collect",
    "build_archives_prune",
    "build_cancel",
    "build_create",
    "build_enqueue",
    "build_execute",
    "builder_spec",
]
