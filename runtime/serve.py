"""The browser view of a scan (``fmnistedge serve``): a Starlette app over a
:class:`~fmnistedge.runtime.live.LiveScan` and the wardrobe.

Routes: ``/`` the page (plain HTML and a little inline JavaScript, no build step);
``/stream.mjpg`` the annotated camera view as MJPEG (multipart/x-mixed-replace);
``/frame.jpg`` the latest frame; ``/api/status``; ``/api/items``;
``/items/ID/thumbnail.jpg``; ``/export.csv`` and ``/export.json`` (the wardrobe's own
export); writes: ``DELETE /api/items/ID``, ``POST /api/undo`` and ``POST /api/relearn``
(learn the empty view again).

Access (:class:`TokenGate`): every write needs the access token in the request itself
(``Authorization: Bearer TOKEN`` or ``?token=``), never from a cookie alone, so another
web site cannot make a visitor's browser remove items. Bound to a loopback address,
reads are open to this machine and, without the token, the Host header must name a
loopback host (a DNS rebinding page cannot read it); bound to any other address, every request needs the
token (``?token=`` once sets a cookie; otherwise 401).

All wardrobe work, the scan's records included, runs on one thread
(:class:`WardrobeService`): an SQLite connection belongs to the thread that opened it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie
from importlib import resources
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs

from fmnistedge.errors import FmnistEdgeError
from fmnistedge.runtime.live import LiveScan
from fmnistedge.runtime.wardrobe import Item, Wardrobe

COOKIE = "fmnistedge_token"
STREAM_POLL_S = 0.03  # how often an MJPEG stream looks for a new frame
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def new_token() -> str:
    return secrets.token_urlsafe(24)


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class WardrobeService:
    """The wardrobe on a thread of its own; :meth:`call` runs a function there and waits.

    ``undo`` removes the newest item this process recorded that is still there (items of
    earlier scans are never undone; remove them by id)."""

    def __init__(self, path: Path | str | None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fmnistedge-wardrobe")
        self._recorded: list[int] = []
        try:
            self.store: Wardrobe = self.call(lambda: Wardrobe(path))
        except BaseException:
            self._pool.shutdown()
            raise
        self.path = self.store.path

    def call(self, fn: Callable):
        return self._pool.submit(fn).result()

    def add(self, item: Item) -> int:
        def add() -> int:
            item_id = self.store.add(item)
            self._recorded.append(item_id)
            return item_id
        return self.call(add)

    def items(self) -> list[dict]:
        return self.call(self.store.items)

    def thumbnail(self, item_id: int) -> bytes | None:
        return self.call(lambda: self.store.thumbnail(item_id))

    def remove(self, item_id: int) -> bool:
        return self.call(lambda: self.store.remove(item_id))

    def undo(self) -> int | None:
        def undo() -> int | None:
            while self._recorded:
                item_id = self._recorded.pop()
                if self.store.remove(item_id):
                    return item_id
            return None
        return self.call(undo)

    def export(self, fmt: str) -> str:
        return self.call(lambda: self.store.export(fmt))

    def close(self) -> None:
        self.call(self.store.close)
        self._pool.shutdown()


def _host_without_port(host: str) -> str:
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class TokenGate:
    """ASGI middleware: the access rules in the module docstring."""

    WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, app, token: str, reads_need_token: bool) -> None:
        self.app, self.token, self.reads_need_token = app, token, reads_need_token

    def _matches(self, value: str | None) -> bool:
        return value is not None and secrets.compare_digest(value.encode(), self.token.encode())

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [None])[0]
        auth = headers.get("authorization", "")
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed Cookie header counts as no cookie
            cookie = SimpleCookie()
        from_cookie = cookie[COOKIE].value if COOKIE in cookie else None
        in_request = self._matches(query) or self._matches(bearer)
        loopback_host = is_loopback(_host_without_port(headers.get("host", "")))
        if not (self.reads_need_token or loopback_host or in_request or self._matches(from_cookie)):
            # A page whose DNS name was rebound to 127.0.0.1 sends its own name; a reverse
            # proxy that forwards another name must pass the token.
            return await _plain(send, 400, "Bad Host header: without the access token this server answers "
                                           "only to a loopback name (localhost, 127.0.0.1, [::1]).")
        if scope["method"] in self.WRITE_METHODS and not in_request:
            return await _plain(send, 401, "Writes need the access token: 'Authorization: Bearer TOKEN'.")
        if self.reads_need_token and not (in_request or self._matches(from_cookie)):
            return await _plain(send, 401, "This fmnistedge serve needs its access token: open the URL "
                                           "with ?token=... that it printed when it started.")
        if not self._matches(query) or self._matches(from_cookie):
            return await self.app(scope, receive, send)

        async def send_with_cookie(message) -> None:
            if message["type"] == "http.response.start":
                value = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"set-cookie", value.encode("latin-1"))]}
            await send(message)
        return await self.app(scope, receive, send_with_cookie)


async def _plain(send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="fmnistedge"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def page(token: str) -> str:
    html = resources.files("fmnistedge.runtime").joinpath("serve_page.html").read_text(encoding="utf-8")
    return html.replace("{{TOKEN}}", token)  # token_urlsafe: letters, digits, '-' and '_' only


def create_app(live: LiveScan, wardrobe: WardrobeService, token: str, reads_need_token: bool,
               closing: threading.Event | None = None):
    """The ASGI app. ``closing`` set ends every open MJPEG stream (the server is stopping)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    closing = closing or threading.Event()
    no_store = {"Cache-Control": "no-store"}

    async def index(request):
        return HTMLResponse(page(token), headers=no_store)

    async def status(request):
        return JSONResponse(live.status(), headers=no_store)

    async def frame(request):
        latest = await run_in_threadpool(live.jpeg)
        if latest is None:
            return JSONResponse({"error": "no frame yet"}, status_code=503, headers=no_store)
        return Response(latest[1], media_type="image/jpeg", headers=no_store)

    async def stream(request):
        async def parts():
            sent = -1
            while not closing.is_set():
                ended = live.ended  # read before the frame: the last frame is then always sent
                if live.seq != sent:
                    latest = await run_in_threadpool(live.jpeg)
                    if latest is not None and latest[0] != sent:
                        sent = latest[0]
                        yield (b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                               % len(latest[1]) + latest[1] + b"\r\n")
                        continue
                if ended:
                    return  # the scan ended: the page shows /frame.jpg from now on
                await asyncio.sleep(STREAM_POLL_S)
        return StreamingResponse(parts(), media_type="multipart/x-mixed-replace; boundary=frame",
                                 headers=no_store)

    async def items(request):
        return JSONResponse(await run_in_threadpool(wardrobe.items), headers=no_store)

    async def thumbnail(request):
        item_id = request.path_params["item_id"]
        data = await run_in_threadpool(wardrobe.thumbnail, item_id)
        if not data:
            return JSONResponse({"error": f"No item #{item_id} with a thumbnail in the wardrobe"}, status_code=404)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    async def remove(request):
        item_id = request.path_params["item_id"]
        if not await run_in_threadpool(wardrobe.remove, item_id):
            return JSONResponse({"error": f"No item #{item_id} in the wardrobe"}, status_code=404)
        return JSONResponse({"removed": item_id})

    async def undo(request):
        item_id = await run_in_threadpool(wardrobe.undo)
        if item_id is None:
            return JSONResponse({"error": "Nothing to undo: this scan recorded no item that is still there"},
                                status_code=409)
        return JSONResponse({"removed": item_id})

    async def relearn(request):
        if not live.relearn():
            return JSONResponse({"error": "This scan has no background model (--segment fast or grabcut)"},
                                status_code=409)
        return JSONResponse({"relearning": True})

    def export(fmt: str, media_type: str):
        async def download(request):
            text = await run_in_threadpool(wardrobe.export, fmt)
            return Response(text, media_type=media_type, headers={
                **no_store, "Content-Disposition": f'attachment; filename="wardrobe.{fmt}"'})
        return download

    async def wardrobe_error(request, exc: FmnistEdgeError):
        return JSONResponse({"error": str(exc)}, status_code=500)

    app = Starlette(routes=[
        Route("/", index),
        Route("/api/status", status),
        Route("/frame.jpg", frame),
        Route("/stream.mjpg", stream),
        Route("/api/items", items),
        Route("/items/{item_id:int}/thumbnail.jpg", thumbnail),
        Route("/api/items/{item_id:int}", remove, methods=["DELETE"]),
        Route("/api/undo", undo, methods=["POST"]),
        Route("/api/relearn", relearn, methods=["POST"]),
        Route("/export.csv", export("csv", "text/csv; charset=utf-8")),
        Route("/export.json", export("json", "application/json")),
    ], exception_handlers={FmnistEdgeError: wardrobe_error})
    return TokenGate(app, token, reads_need_token)
