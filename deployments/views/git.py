"""`git push` and `git fetch` over smart HTTP at /git/<tenant>/<app>.git, served by git's own `git http-backend`.

HTTP Basic authentication: any user name, an API token as the password (as Heroku takes its API key). Pushing needs
the action app.deploy, fetching app.view (tenants/permissions.py). No credentials and a wrong token answer 401 (git
then asks for credentials); a tenant or app the caller cannot see answers 404 exactly as a missing one; a token
without the scope answers 403 with the reason. The repository is made on the first authorised push.
"""

from __future__ import annotations

import base64
import binascii

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from deployments.git.backend import Backend, BackendError
from deployments.git.receiver import HookReceiver
from deployments.selectors.apps import app_get
from deployments.services.gitrepos import repository_ensure, repository_path
from portal.errors import NotFound
from tenants.permissions import Permissions
from tenants.selectors import tenant_get_by_slug, token_authenticate
from tenants.services import token_mark_used

_SERVICES = {"git-receive-pack": "app.deploy", "git-upload-pack": "app.view"}
_PASSED_HEADERS = ("CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_CONTENT_ENCODING", "HTTP_GIT_PROTOCOL", "REMOTE_ADDR")


def _text(status: int, message: str, **headers) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8", headers=headers)


def _unauthorized(message: str) -> HttpResponse:
    return _text(401, message, **{"WWW-Authenticate": 'Basic realm="Berth git"'})


def _credentials(request) -> str | None:
    """The password of the Basic credentials (the token), or None when there are none."""
    kind, _, encoded = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if kind.lower() != "basic":
        return None
    try:
        _user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password or None


def _service(request, path: str) -> str | None:
    if path == "info/refs":
        return request.GET.get("service") or "git-upload-pack"  # a dumb-protocol fetch reads like one
    name = path.rsplit("/", 1)[-1]
    return name if name in _SERVICES else "git-upload-pack"


async def _async_chunks(chunks):
    iterator = iter(chunks)
    try:
        while (chunk := await sync_to_async(next, thread_sensitive=False)(iterator, None)) is not None:
            yield chunk
    finally:
        await sync_to_async(iterator.close, thread_sensitive=False)()


@csrf_exempt
def git_http(request, tenant: str, app: str, path: str):
    """Serve one request of git's smart HTTP protocol for the app's repository."""
    service = _service(request, path)
    if service not in _SERVICES:
        return _text(403, f"{service} is not offered here.")
    plaintext = _credentials(request)
    if plaintext is None:
        return _unauthorized("Authenticate with an API token as the password (any user name).")
    token = token_authenticate(plaintext=plaintext)
    if token is None or not token.user.is_active:
        return _unauthorized("Invalid, expired or revoked token.")
    token_mark_used(token=token)
    found = tenant_get_by_slug(slug=tenant)
    can = Permissions(user=token.user, token=token, tenant=found) if found is not None else None
    if can is None or not can.sees_tenant:
        return _text(404, "Repository not found.")
    try:
        target = app_get(tenant=found, slug=app)
    except NotFound:
        return _text(404, "Repository not found.")
    if not can.allows(_SERVICES[service]):
        need = "the deploy scope" if service == "git-receive-pack" else "the read scope"
        return _text(403, f"Your role or token does not allow this: pushing needs {need}.")
    pushing = service == "git-receive-pack"
    if pushing:
        repository = repository_ensure(tenant_slug=found.slug, app_slug=target.slug)
    else:
        repository = repository_path(tenant_slug=found.slug, app_slug=target.slug)
        if not (repository / "HEAD").is_file():
            return _text(404, "Nothing was pushed to this repository yet.")
    cgi = {
        "GIT_PROJECT_ROOT": str(repository.parent),
        "PATH_INFO": f"/{repository.name}/{path}",
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.META.get("QUERY_STRING", ""),
        "REMOTE_USER": token.user.get_username(),
    }
    cgi.update({name: str(request.META[name]) for name in _PASSED_HEADERS if request.META.get(name)})
    receiver = None
    extra = {}
    if pushing and request.method == "POST":
        receiver = HookReceiver(app=target, actor=token.user, repository=repository)
        extra["BERTH_GIT_HOOK_SOCKET"] = receiver.path
    timeout = settings.BERTH_GIT_PUSH_TIMEOUT
    if receiver is not None:
        timeout += settings.BERTH_BUILD_TIMEOUT + settings.BERTH_GIT_RELEASE_WAIT
    # Compressed negotiation and pack headers come on top of the pack itself.
    max_body = settings.BERTH_GIT_MAX_PUSH_MB * 1024 * 1024 + 8 * 1024 * 1024
    try:
        backend = Backend(
            cgi=cgi,
            body=request,
            max_body=max_body,
            timeout=timeout,
            extra_env=extra,
            on_close=receiver.close if receiver is not None else None,
        )
    except BackendError:
        return _text(502, "git could not answer this request.")
    chunks = backend.chunks()
    content = _async_chunks(chunks) if isinstance(request, ASGIRequest) else chunks
    response = StreamingHttpResponse(content, status=backend.status)
    for name, value in backend.headers:
        response[name] = value
    return response
