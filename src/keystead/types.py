"""Identifier types shared by every layer."""

from __future__ import annotations

from typing import NewType
from uuid import UUID

KeyId = NewType("KeyId", UUID)
KeyVersionNumber = NewType("KeyVersionNumber", int)
Term = NewType("Term", int)
TokenId = NewType("TokenId", UUID)
