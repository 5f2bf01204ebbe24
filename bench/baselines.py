"""Baselines for bench/http_ops.py: a bare Starlette echo and a raw ASGI echo, served by uvicorn.

Each echoes the request body (the same 1 KiB-plaintext JSON as Keystead's encrypt) with no
crypto and no database, so a Keystead operation can be read as a share of what the HTTP stack
alone does with the same TLS certificate, uvicorn settings, workers and connections.

usage: python bench/baselines.py starlette|asgi --port N --cert PEM --key PEM [--workers N]
"""

from __future__ import annotations

import argparse
import signal
import ssl
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ECHO_PATH = "/echo"
_JSON_HEADERS = [(b"content-type", b"application/json")]


async def _echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/json")


def make_starlette() -> Starlette:
    """A Starlette app with one ``async def`` POST endpoint that echoes its JSON body."""
    return Starlette(routes=[Route(ECHO_PATH, _echo, methods=["POST"])])


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def raw_echo(scope: Scope, receive: Receive, send: Send) -> None:
    """The same echo as a bare ASGI callable: no framework, no routing beyond one path check."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["path"] != ECHO_PATH:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode("ascii"))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def make_asgi() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """Return the raw ASGI echo (a factory, like make_starlette, for uvicorn's workers)."""
    return raw_echo


FACTORIES = {"starlette": "make_starlette", "asgi": "make_asgi"}


def _exit_cleanly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def serve(kind: str, port: int, cert: Path, key: Path, workers: int) -> None:
    """Serve one baseline with the settings `keystead server` gives uvicorn (cli/server.py)."""
    common: dict[str, Any] = {
        "host": "127.0.0.1", "port": port, "ssl_certfile": str(cert), "ssl_keyfile": str(key),
        "log_config": None, "access_log": False, "server_header": False, "lifespan": "on",
    }  # fmt: skip
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    if workers > 1:
        # uvicorn's own process manager: an import string, one shared listening socket.
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        uvicorn.run(f"baselines:{FACTORIES[kind]}", factory=True, workers=workers, **common)
        return
    app = make_starlette() if kind == "starlette" else make_asgi()
    config = uvicorn.Config(app, **common)
    config.load()
    if config.ssl is not None:
        config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2  # as keystead server does
    uvicorn.Server(config).run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(FACTORIES))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    serve(args.kind, args.port, args.cert, args.key, args.workers)


if __name__ == "__main__":
    main()
