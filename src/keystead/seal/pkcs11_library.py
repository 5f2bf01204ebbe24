"""The PKCS#11 library of this process: loaded once, its calls serialised, its errors named.

python-pkcs11 initialises a module with ``C_Initialize(NULL)``, by which the application
promises not to call it from several threads at once (PKCS#11 v2.40 section 5.4: without
``CKF_OS_LOCKING_OK`` a module may do no locking of its own). Every call therefore holds the
library's lock; the server reaches the token from worker threads, never from the event loop.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pkcs11
from pkcs11 import exceptions as p11

from keystead.errors import HSMError

if TYPE_CHECKING:
    from pkcs11 import _pkcs11

__all__ = ["Library", "describe", "load_library"]

_PIN_REFUSED: Final = (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange)
_PIN_UNUSABLE: Final = (p11.PinLocked, p11.PinExpired, p11.UserPinNotInitialized)
_NOT_SUPPORTED: Final = (
    p11.MechanismInvalid, p11.MechanismParamInvalid, p11.FunctionNotSupported,
)  # fmt: skip
DEFINITIVE: Final = (*_PIN_REFUSED, *_PIN_UNUSABLE, *_NOT_SUPPORTED, p11.ArgumentsBad)
"""Errors that reconnecting cannot cure: they are reported at once, never retried."""


class Library:
    """One loaded PKCS#11 module, its call lock, and how often it was re-initialised."""

    __slots__ = ("generation", "lock", "module", "native")

    def __init__(self, module: Path, native: _pkcs11.lib) -> None:
        self.module = module
        self.native = native
        self.lock = threading.RLock()
        self.generation = 0
        """Bumped by :meth:`reinitialize`: sessions opened before it are gone."""

    def __repr__(self) -> str:
        return f"Library(module={str(self.module)!r}, generation={self.generation})"

    def reinitialize(self) -> None:
        """``C_Finalize`` then ``C_Initialize``: every session closes, tokens are looked up anew.

        SoftHSM2 and many HSMs list the tokens they find at ``C_Initialize`` only, so this is
        also how a token plugged in (or made) after start becomes visible.

        Raises:
            HSMError: The module cannot be initialised again.
        """
        with self.lock:
            self.generation += 1
            try:
                self.native.reinitialize()
            except p11.PKCS11Error as exc:
                raise describe(exc, "re-initialising the PKCS#11 module") from None


_LIBRARIES: dict[Path, Library] = {}
_LOADING = threading.Lock()


def load_library(module: Path) -> Library:
    """Return the process's library for ``module``, loading and initialising it the first time.

    Raises:
        HSMError: The module cannot be loaded (missing, not a PKCS#11 module) or initialised.
    """
    module = Path(module)
    with _LOADING:
        library = _LIBRARIES.get(module)
        if library is not None:
            return library
        try:
            native = pkcs11.lib(str(module))
        except p11.PKCS11Error as exc:
            reason = str(exc).rpartition(": ")[2] or type(exc).__name__
            msg = f"cannot load the PKCS#11 module named by pkcs11_module: {reason}"
            raise HSMError(msg, operator_detail=f"pkcs11_module={module}: {exc}") from None
        library = _LIBRARIES[module] = Library(module, native)
        return library


def describe(exc: p11.PKCS11Error, doing: str) -> HSMError:
    """Turn a PKCS#11 failure into an ``HSMError`` that names the setting, never the PIN.

    Args:
        exc: What python-pkcs11 raised.
        doing: What was being done, for the log (``"logging in to the token"``).
    """
    name = type(exc).__name__
    operator = f"{doing}: {name}"
    if isinstance(exc, _PIN_REFUSED):
        # Not retried: an HSM locks its user PIN after a few wrong tries.
        return HSMError(
            "the token refused the PIN (pkcs11_pin or pkcs11_pin_file); not retried, since "
            "repeating a wrong PIN locks the token: correct it and restart the server",
            operator_detail=operator, retry=False,
        )  # fmt: skip
    if isinstance(exc, _PIN_UNUSABLE):
        return HSMError(
            f"the token's user PIN cannot be used ({name}): reset it with the token's tools, "
            "then restart the server",
            operator_detail=operator, retry=False,
        )  # fmt: skip
    if isinstance(exc, _NOT_SUPPORTED):
        return HSMError(
            f"the token does not support what the pkcs11 seal needs: AES-256 keys and "
            f"AES-GCM (CKM_AES_GCM) ({name})",
            operator_detail=operator, retry=False,
        )  # fmt: skip
    if isinstance(exc, p11.NoSuchToken | p11.TokenNotPresent | p11.TokenNotRecognised):
        return HSMError(
            "no token with the label set in pkcs11_token_label is present",
            operator_detail=operator,
        )
    if isinstance(exc, p11.NoSuchKey):
        return HSMError(
            "the token holds no root key of this server (the key made at init is gone, or "
            "this is another token)",
            operator_detail=operator,
        )
    return HSMError(f"the token failed ({name})", operator_detail=operator)
