"""The portal's end of the pre-receive hook (hooks/pre-receive): answer the one hook run of a push from a thread.

The view that runs `git http-backend` for a push listens on a unix socket in a private folder and names it to the
hook through BERTH_GIT_HOOK_SOCKET. The hook sends the ref updates and where the quarantined objects are; this
thread checks the branch, creates the build (services/builds/push.py) and sends its log back line by line, then the
exit code that accepts or refuses the push. The build itself runs on the "builds" queue like any build.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import tempfile
import threading
from pathlib import Path

from django.db import close_old_connections, connection

from deployments.services.builds.push import PushRefused, PushResult, RefUpdate, push_build, push_check, push_follow

logger = logging.getLogger(__name__)

_MAX_REQUEST = 1024 * 1024


class HookReceiver:
    """Listen for the pre-receive hook of one push of `app` by `actor` into `repository`, until closed."""

    def __init__(self, *, app, actor, repository: Path):
        self.app, self.actor, self.repository = app, actor, repository
        self.folder = Path(tempfile.mkdtemp(prefix="berth-git-"))
        self.path = str(self.folder / "hook.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.listener.settimeout(0.2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, name=f"git-hook-{app.pk}", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)
        self.listener.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _serve(self) -> None:
        try:
            while not self.stopped.is_set():
                try:
                    conn, _ = self.listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                with conn:
                    conn.settimeout(None)
                    self._answer(conn)
                return
        finally:
            close_old_connections()
            connection.close()

    def _answer(self, conn: socket.socket) -> None:
        def send(**message) -> None:
            conn.sendall((json.dumps(message) + "\n").encode())

        try:
            request = json.loads(conn.makefile("rb").readline(_MAX_REQUEST))
            updates = [RefUpdate(*(str(part) for part in update)) for update in request["updates"]]
            objects = {str(key): str(value) for key, value in dict(request.get("objects") or {}).items()}
            update = push_check(updates)
            build = push_build(
                app=self.app, actor=self.actor, repository=self.repository, update=update, objects=objects
            )
            send(line=f"Building {self.app.slug} (build {build.number}) from {update.new[:12]}")
            for item in push_follow(build=build):
                if isinstance(item, PushResult):
                    send(line=item.line)
                    send(exit=0 if item.ok else 1)
                    return
                send(line=item)
        except PushRefused as error:
            send(line=f"Push refused: {error}")
            send(exit=1)
        except BrokenPipeError:
            logger.info("the pusher of %s went away during the push", self.app)
        except Exception:
            logger.exception("the push to %s failed", self.app)
            send(line="Push failed: internal error (the server log has the details)")
            send(exit=1)
