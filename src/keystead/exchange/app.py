"""The exchange's HTTP API (Starlette + msgspec). Thin: parse, call a service, shape the answer.

=======  ===========================  =========================================================
GET      /healthz                     liveness
GET      /v1/info                     pairs, assets, the exchange's public key
GET      /v1/exchange-key?version=N   one version of the exchange's public key
POST     /v1/accounts                 register: a signed register request -> 201
POST     /v1/sessions                 log in: a signed login request -> 201 {token}
DELETE   /v1/sessions/current         log out: the session's token stops working -> 204
GET      /v1/accounts/me              the session's account and balances
GET      /v1/accounts/me/orders       its newest orders
GET      /v1/accounts/me/trades       its newest trades
POST     /v1/orders                   a signed order -> 201 signed confirmation
POST     /v1/cancels                  a signed cancel -> 200 signed confirmation
GET      /v1/book/{pair}?levels=N     the order book's depth
GET      /v1/trades?pair=P&limit=N    the newest trades
POST     /v1/deposits                 operator: credit an account
GET      /v1/ledger?after=S&limit=N   operator: ledger entries, oldest first
=======  ===========================  =========================================================

Errors are RFC 9457 problem documents with a stable ``code``; never a stack trace.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from keystead.exchange.canonical import decimal_text
from keystead.exchange.errors import (
    BadRequest,
    ExchangeError,
    NotFound,
    PayloadTooLarge,
    UnknownPair,
)
from keystead.exchange.requests import decode_envelope
from keystead.exchange.service import Exchange, build_exchange
from keystead.exchange.settings import ExchangeSettings
from keystead.exchange.store import OrderRow, TradeRow
from keystead_sdk import AsyncClient

_log = structlog.get_logger("keystead.exchange")
_MAX_BODY = 64 * 1024

Handler = Callable[[Request], Awaitable[Response]]


class DepositRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The operator's deposit."""

    account: str
    asset: str
    amount: str


def _json(body: Any, status: int = 200) -> Response:  # noqa: ANN401 - any JSON document
    return Response(msgspec.json.encode(body), status, media_type="application/json")


def _problem(error: ExchangeError) -> Response:
    body = {"type": "about:blank", "title": error.code, "status": error.status,
            "detail": error.message, "code": error.code}  # fmt: skip
    return Response(json.dumps(body), error.status, media_type="application/problem+json")


def _exchange(request: Request) -> Exchange:
    exchange: Exchange = request.app.state.exchange
    return exchange


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def _body(request: Request) -> bytes:
    """The body, read no further than the limit (a larger one is refused, not buffered)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY:
            msg = f"the body is larger than {_MAX_BODY} bytes"
            raise PayloadTooLarge(msg)
    return bytes(body)


def _int_query(request: Request, name: str, default: int, maximum: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isdigit() or not 0 <= int(text) <= maximum:
        msg = f"{name} must be an integer from 0 to {maximum}"
        raise BadRequest(msg)
    return int(text)


def _order(row: OrderRow) -> dict[str, Any]:
    return {
        "order_id": row.id, "account": row.account, "pair": row.pair, "side": row.side.value,
        "price": decimal_text(row.price), "quantity": decimal_text(row.quantity),
        "remaining": decimal_text(row.remaining), "status": row.status,
        "created_ms": row.created_ms, "key_version": row.key_version,
    }  # fmt: skip


def _trade(row: TradeRow) -> dict[str, Any]:
    return {
        "trade_id": row.id, "pair": row.pair, "price": decimal_text(row.price),
        "quantity": decimal_text(row.quantity), "buy_order": row.buy_order,
        "sell_order": row.sell_order, "buyer": row.buyer, "seller": row.seller,
        "taker_side": row.taker_side.value, "time_ms": row.time_ms, "ledger_seq": row.ledger_seq,
    }  # fmt: skip


async def health(_: Request) -> Response:
    """Liveness."""
    return _json({"status": "ok"})


async def info(request: Request) -> Response:
    """The pairs, assets and the exchange's public key."""
    exchange = _exchange(request)
    key = await exchange.link.own_key()
    markets = exchange.settings.markets
    return _json({
        "exchange": exchange.settings.name,
        "pairs": [
            {"symbol": p.symbol, "base": p.base, "quote": p.quote,
             "price_places": p.price_places, "quantity_places": p.quantity_places}
            for p in markets.values()
        ],
        "key": _public_key(key.key_id, key.version, key.spec, key.public_key_der),
    })  # fmt: skip


def _public_key(key_id: str, version: int, spec: str, der: bytes) -> dict[str, Any]:
    body = base64.encodebytes(der).decode("ascii").replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    pem = "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"
    return {"key_id": key_id, "version": version, "spec": spec, "public_key": pem}


async def exchange_key(request: Request) -> Response:
    """One version of the exchange's public key (the newest by default)."""
    version = _int_query(request, "version", 0, 2**31) or None
    key = await _exchange(request).link.own_key(version)
    return _json(_public_key(key.key_id, key.version, key.spec, key.public_key_der))


async def register(request: Request) -> Response:
    """Register an account by a signed register request."""
    account = await _exchange(request).accounts.register(decode_envelope(await _body(request)))
    return _json({"account": account.name, "key_id": account.key_id}, 201)


async def login(request: Request) -> Response:
    """Open a session by a signed login request."""
    session = await _exchange(request).accounts.login(decode_envelope(await _body(request)))
    body = {"token": session.token, "account": session.account, "expires_at": session.expires_at}
    return _json(body, 201)


async def logout(request: Request) -> Response:
    """End the caller's session."""
    await _exchange(request).accounts.logout(_bearer(request))
    return Response(status_code=204)


async def me(request: Request) -> Response:
    """The session's account and its balances."""
    accounts = _exchange(request).accounts
    account = await accounts.session_account(_bearer(request))
    balances = await accounts.balances(account.name)
    return _json({
        "account": account.name, "key_id": account.key_id,
        "balances": [
            {"asset": asset, "available": decimal_text(b.available),
             "reserved": decimal_text(b.reserved)}
            for asset, b in balances.items()
        ],
    })  # fmt: skip


async def my_orders(request: Request) -> Response:
    """The session's newest orders."""
    exchange = _exchange(request)
    account = await exchange.accounts.session_account(_bearer(request))
    limit = _int_query(request, "limit", 100, 1000)
    async with exchange.store.transaction() as tx:
        rows = await tx.orders_of(account.name, limit)
    return _json({"orders": [_order(row) for row in rows]})


async def my_trades(request: Request) -> Response:
    """The session's newest trades."""
    exchange = _exchange(request)
    account = await exchange.accounts.session_account(_bearer(request))
    limit = _int_query(request, "limit", 100, 1000)
    async with exchange.store.transaction() as tx:
        rows = await tx.trades(None, account.name, limit)
    return _json({"trades": [_trade(row) for row in rows]})


async def place(request: Request) -> Response:
    """Place a signed order; the answer is the signed confirmation."""
    timings: dict[str, float] = {}
    signed = await _exchange(request).trading.place(decode_envelope(await _body(request)), timings)
    response = _json(signed.to_json(), 201)
    # W3C Server-Timing: where an order's time went (bench/exchange.py reads it).
    group = timings.pop("group", None)
    parts = [f"{phase};dur={seconds * 1000:.3f}" for phase, seconds in timings.items()]
    if group is not None:
        parts.append(f'group;desc="{group:.0f}"')
    response.headers["server-timing"] = ", ".join(parts)
    return response


async def cancel(request: Request) -> Response:
    """Cancel by a signed cancel request; the answer is the signed confirmation."""
    signed = await _exchange(request).trading.cancel(decode_envelope(await _body(request)))
    return _json(signed.to_json())


async def book(request: Request) -> Response:
    """The depth of one pair's book."""
    pair = request.path_params["pair"]
    books = _exchange(request).engine.state.books
    if pair not in books:
        msg = f"no market trades {pair!r}"
        raise UnknownPair(msg)
    bids, asks = books[pair].depth(_int_query(request, "levels", 20, 1000))
    return _json({
        "pair": pair,
        "bids": [[decimal_text(p), decimal_text(q)] for p, q in bids],
        "asks": [[decimal_text(p), decimal_text(q)] for p, q in asks],
    })  # fmt: skip


async def trades(request: Request) -> Response:
    """The newest trades, of one pair or all."""
    exchange = _exchange(request)
    pair = request.query_params.get("pair")
    if pair is not None and pair not in exchange.settings.markets:
        msg = f"no market trades {pair!r}"
        raise UnknownPair(msg)
    limit = _int_query(request, "limit", 100, 1000)
    async with exchange.store.transaction() as tx:
        rows = await tx.trades(pair, None, limit)
    return _json({"trades": [_trade(row) for row in rows]})


async def deposit(request: Request) -> Response:
    """The operator credits an account."""
    exchange = _exchange(request)
    exchange.accounts.require_operator(_bearer(request))
    try:
        body = msgspec.json.decode(await _body(request), type=DepositRequest)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        msg = f"the deposit is not valid: {error}"
        raise BadRequest(msg) from None
    done = await exchange.accounts.deposit(body.account, body.asset, body.amount)
    return _json({
        "account": done.account, "asset": done.asset,
        "available": decimal_text(done.balance.available),
        "reserved": decimal_text(done.balance.reserved), "ledger_seq": done.ledger_seq,
    }, 201)  # fmt: skip


async def ledger_page(request: Request) -> Response:
    """The operator reads ledger entries, oldest first."""
    exchange = _exchange(request)
    exchange.accounts.require_operator(_bearer(request))
    after = _int_query(request, "after", 0, 2**62)
    limit = _int_query(request, "limit", 1000, 10000)
    async with exchange.store.transaction() as tx:
        rows = await tx.ledger_rows(after, limit)
    return _json({"entries": [
        {"seq": row.seq, "body": json.loads(row.body), "hash": row.hash,
         "signature": base64.b64encode(row.signature).decode(), "key_version": row.key_version}
        for row in rows
    ]})  # fmt: skip


def _guarded(handler: Handler) -> Handler:
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except ExchangeError as error:
            return _problem(error)
        except Exception:  # noqa: BLE001 - a bare 500 for the client; the log has the trace
            _log.exception("unexpected error", route=request.url.path)
            return _problem(ExchangeError())

    return guarded


_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/healthz", health),
    ("GET", "/v1/info", info),
    ("GET", "/v1/exchange-key", exchange_key),
    ("POST", "/v1/accounts", register),
    ("POST", "/v1/sessions", login),
    ("DELETE", "/v1/sessions/current", logout),
    ("GET", "/v1/accounts/me", me),
    ("GET", "/v1/accounts/me/orders", my_orders),
    ("GET", "/v1/accounts/me/trades", my_trades),
    ("POST", "/v1/orders", place),
    ("POST", "/v1/cancels", cancel),
    ("GET", "/v1/book/{pair}", book),
    ("GET", "/v1/trades", trades),
    ("POST", "/v1/deposits", deposit),
    ("GET", "/v1/ledger", ledger_page),
]


async def _not_found(_: Request, __: Exception) -> Response:
    return _problem(NotFound("no such route"))


def create_exchange_app(
    settings: ExchangeSettings,
    keystead: AsyncClient | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The exchange's ASGI app; its lifespan opens the database and reaches Keystead.

    Args:
        settings: The exchange's settings.
        keystead: The SDK client to use (tests); by default one is made from the settings.
        clock: The time, in Unix seconds.
    """

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        exchange = await build_exchange(settings, keystead, clock)
        try:
            await exchange.start()
            app.state.exchange = exchange
            yield
        finally:
            await exchange.close()

    routes = [Route(path, _guarded(h), methods=[m]) for m, path, h in _ROUTES]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: _not_found})
