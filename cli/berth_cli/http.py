"""A small JSON client of the Berth API on urllib: errors, cursor pagination, multipart uploads."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

from berth_cli import __version__

USER_AGENT = f"berth-cli/{__version__}"


class ApiError(Exception):
    """The API answered with an error (or could not be reached: status 0)."""

    def __init__(self, message: str, *, status: int = 0, code: str = "error", fields: dict | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.fields = fields or {}


def quote(part: str | int) -> str:
    """Quote one path segment (a tenant, app or username never adds a path level)."""
    return urllib.parse.quote(str(part), safe="")


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """Encode form fields and files (name -> (filename, content, type)); return (body, content type)."""
    boundary = "berth-" + secrets.token_hex(16)
    chunks: list[bytes] = []
    for name, value in fields.items():
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        chunks.append(value.encode() + b"\r\n")
    for name, (filename, content, content_type) in files.items():
        head = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        chunks.extend([head.encode(), content, b"\r\n"])
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def _error_from(status: int, raw: bytes, reason: str) -> ApiError:
    try:
        body = json.loads(raw.decode() or "null")
    except (ValueError, UnicodeDecodeError):
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return ApiError(
            str(error.get("message") or reason),
            status=status,
            code=str(error.get("code") or "error"),
            fields=error.get("fields") if isinstance(error.get("fields"), dict) else {},
        )
    if isinstance(body, dict) and "detail" in body:
        return ApiError(str(body["detail"]), status=status)
    return ApiError(f"HTTP {status} {reason}".strip(), status=status)


class Client:
    """Talks to one portal with one token."""

    def __init__(self, base_url: str, token: str | None, *, timeout: float = 60.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.last_headers: dict[str, str] = {}

    def url(self, path: str, query: dict | None = None) -> str:
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        params = {key: value for key, value in (query or {}).items() if value not in (None, "")}
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        return url

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body=None,
        data: bytes | None = None,
        content_type: str | None = None,
        query: dict | None = None,
        timeout: float | None = None,
    ):
        """Send one request; return the decoded JSON answer (None when empty) or raise ApiError."""
        url = self.url(path, query)
        if not url.startswith(("http://", "https://")):
            raise ApiError(f"BERTH_URL must start with http:// or https://, not {self.base_url!r}.")
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if json_body is not None:
            data = json.dumps(json_body).encode()
            content_type = "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        # The scheme was checked above: only http(s) URLs reach Request and urlopen.
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:  # noqa: S310 (http(s) only)
                raw = response.read()
                self.last_headers = {key.lower(): value for key, value in response.headers.items()}
        except urllib.error.HTTPError as exc:
            error = _error_from(exc.code, exc.read(), exc.reason or "")
            if exc.code == 401 and not self.token:
                error.message += " Set BERTH_TOKEN or run `berth login --token brt_...`."
            raise error from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(f"cannot reach {self.base_url}: {reason}") from None
        if not raw:
            return None
        try:
            return json.loads(raw.decode())
        except (ValueError, UnicodeDecodeError):
            raise ApiError(f"{method} {url} did not answer JSON.") from None

    def release_header(self) -> int | None:
        """The version the last write created, from its `Berth-Release` header (None when it created none)."""
        value = self.last_headers.get("berth-release", "")
        return int(value) if value.isdigit() else None

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body=None, **kwargs):
        return self.request("POST", path, json_body=body if body is not None else {}, **kwargs)

    def put(self, path: str, body, **kwargs):
        return self.request("PUT", path, json_body=body, **kwargs)

    def patch(self, path: str, body, **kwargs):
        return self.request("PATCH", path, json_body=body, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def pages(self, path: str, query: dict | None = None) -> Iterator[dict]:
        """Yield each page of a cursor-paginated list, following `next` (a full URL)."""
        answer = self.get(path, query=query)
        while True:
            if isinstance(answer, list):  # an unpaginated list (members)
                yield {"results": answer, "next": None, "previous": None}
                return
            yield answer
            following = answer.get("next") if isinstance(answer, dict) else None
            if not following:
                return
            answer = self.get(following)

    def list(self, path: str, query: dict | None = None, *, limit: int | None = None) -> list:
        """Return every item of a list (or the first `limit`), across pages."""
        items: list = []
        for page in self.pages(path, query):
            items.extend(page.get("results") or [])
            if limit is not None and len(items) >= limit:
                return items[:limit]
        return items
