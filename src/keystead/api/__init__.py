"""HTTP API: Starlette + msgspec. Thin: parse, call one service, shape the answer."""
