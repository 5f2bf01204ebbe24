"""The garbage collector's settings for a serving process.

CPython's defaults suit short scripts, not a server holding a few requests' objects in
flight: with a young generation of 700, a request whose response waits on an audit commit
outlives several collections, and every tenth of those scans the whole heap of imported
modules again (measured: 1.2 s of collection in an 8 s run under load, 50 us a request).
Freezing what is loaded at start moves it out of every collection; a larger young
generation makes collections rarer. Cycles are still found: only their cadence changes.
"""

from __future__ import annotations

import gc
from typing import Final

# Objects allocated (less those freed) before a young collection: CPython's default is 700.
_YOUNG_GENERATION: Final = 10_000


def tune_for_serving() -> None:
    """Freeze everything loaded so far and make young collections rarer.

    Call once per serving process, after the app is built: never in tests, where apps come
    and go and frozen objects would never be collected.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(_YOUNG_GENERATION, middle, old)
