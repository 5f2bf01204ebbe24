"""structlog set-up: JSON lines with a redaction step just before the renderer (C18)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Final

import structlog

REDACTED: Final = "[redacted]"
_DENYLIST: Final = frozenset(
    {
        "plaintext", "ciphertext", "key_material", "material", "passphrase", "password",
        "pin", "token", "root_token", "authorization", "data_key", "share", "shares",
        "secret", "database_url", "new_password", "current_password", "totp", "code",
        "recovery_code", "recovery_codes", "otpauth_uri", "password_hash",
    }
)  # fmt: skip
_LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
                  "error": logging.ERROR}  # fmt: skip


def redact(
    _logger: object, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace denylisted fields by a marker and any bytes by their length, at any depth."""
    for name, value in event.items():
        event[name] = REDACTED if name.lower() in _DENYLIST else _scrub(value)
    return event


def _scrub(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview) or type(value).__name__ == "KeyMaterial":
        return f"<{len(value)} bytes>"  # type: ignore[arg-type]  # every branch type has len()
    if isinstance(value, Mapping):
        return {
            key: REDACTED if str(key).lower() in _DENYLIST else _scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(item) for item in value]
    return value


class _CurrentStderr:
    """Whatever ``sys.stderr`` is at write time (loggers are cached; streams get swapped)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    """Configure structlog (and the stdlib loggers uvicorn uses) for this process."""
    numeric = _LEVELS.get(level, logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr, force=True)
