"""A bounded cache of keys and their unwrapped versions, so a hot key costs no read or unwrap.

Flushed whole on seal, and per key on any change of that key made by this node (STYLE.md
C16). Entries are re-read from the database after ``ttl_seconds``, so a change made by another
node sharing the database is seen within that time; unwrapped material is kept across a
re-read that finds the key unchanged.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field

from keystead.crypto.secret import KeyMaterial
from keystead.crypto.symmetric import PreparedKey
from keystead.domain.identity import Grant
from keystead.domain.lifecycle import KeyState
from keystead.domain.models import Key
from keystead.types import KeyId

# How long other callers use a stale entry while one caller re-reads it (if that read
# fails, the next caller after this grace tries again).
_REFRESH_GRACE = 2.0


@dataclass(slots=True)
class CachedKey:
    """A key's metadata and whichever of its versions have been unwrapped."""

    key: Key
    materials: dict[int, KeyMaterial] = field(default_factory=dict, repr=False)
    public_keys: dict[int, bytes] = field(default_factory=dict, repr=False)
    prepared: dict[int, PreparedKey] = field(default_factory=dict, repr=False)
    hsm_objects: dict[int, bytes] = field(default_factory=dict, repr=False)
    """The token object ids of HSM-protected versions (ids, not material)."""
    reserved_uses: dict[int, int] = field(default_factory=dict)
    version_states: dict[int, KeyState] = field(default_factory=dict)
    grants: tuple[Grant, ...] = ()
    fresh_until: float = 0.0
    refresh_started: float = 0.0


class KeyCache:
    """Least-recently-used keys, at most ``capacity`` of them."""

    def __init__(self, capacity: int = 1024, ttl_seconds: float = 5.0) -> None:
        self._capacity = capacity
        self._ttl = ttl_seconds
        self._by_id: OrderedDict[KeyId, CachedKey] = OrderedDict()
        self._ids_by_name: dict[str, KeyId] = {}

    def __repr__(self) -> str:
        return f"KeyCache({len(self._by_id)} keys)"

    def get(self, key_id: KeyId) -> CachedKey | None:
        """Return the cached entry of a key, unless this caller should re-read it.

        When an entry is due for a re-read, the first caller gets None and re-reads it;
        callers meanwhile keep the entry they had, so a hot key sends one read to the
        database every ``ttl_seconds``, not one per request in flight.
        """
        entry = self._by_id.get(key_id)
        if entry is None:
            return None
        now = time.monotonic()
        if entry.fresh_until < now and entry.refresh_started + _REFRESH_GRACE < now:
            entry.refresh_started = now
            return None
        self._by_id.move_to_end(key_id)
        return entry

    def get_by_name(self, name: str) -> CachedKey | None:
        """Return the cached entry of the key with that name."""
        key_id = self._ids_by_name.get(name)
        return None if key_id is None else self.get(key_id)

    def put(
        self, key: Key, version_states: dict[int, KeyState], grants: tuple[Grant, ...] = ()
    ) -> CachedKey:
        """Cache a key's metadata, version states and grants (keeping unwrapped materials)."""
        entry = self._by_id.get(key.id)
        if entry is None or entry.key != key:
            self.forget(key.id)
            entry = CachedKey(key)
            self._by_id[key.id] = entry
            self._ids_by_name[key.name] = key.id
        entry.version_states = version_states
        entry.grants = grants
        entry.fresh_until = time.monotonic() + self._ttl
        self._by_id.move_to_end(key.id)
        while len(self._by_id) > self._capacity:
            _, evicted = self._by_id.popitem(last=False)
            self._drop(evicted)
        return entry

    def forget(self, key_id: KeyId) -> None:
        """Drop one key and wipe its cached material."""
        entry = self._by_id.pop(key_id, None)
        if entry is not None:
            self._drop(entry)

    def clear(self) -> None:
        """Drop and wipe everything."""
        for entry in self._by_id.values():
            self._drop(entry, keep_index=True)
        self._by_id.clear()
        self._ids_by_name.clear()

    def _drop(self, entry: CachedKey, *, keep_index: bool = False) -> None:
        for material in entry.materials.values():
            material.wipe()
        entry.materials.clear()
        entry.prepared.clear()
        entry.hsm_objects.clear()
        if not keep_index:
            self._ids_by_name.pop(entry.key.name, None)
