"""Printing the identity commands' results: Rich tables for people, JSON for scripts.

Every cell is ``Text``, never markup: names and descriptions are printed verbatim. Models
are dumped with their secrets masked; a command that must show a secret (a new token)
prints it itself, once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

from keystead.cli import io

Row = Sequence[object]


def console() -> Console:
    """A stdout console that highlights nothing."""
    return Console(highlight=False)


def cell(value: object) -> Text:
    """A cell printed verbatim: ``-`` for none, yes/no, lists joined, UTC datetimes."""
    if value is None:
        return Text("-")
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    if isinstance(value, datetime):
        return Text(io.format_datetime(value))
    if isinstance(value, list | tuple):
        return Text(", ".join(str(item) for item in value) or "-")
    return Text(str(value))


def fields(title: str, rows: Iterable[tuple[str, object]]) -> None:
    """Print one object as a two-column Field/Value table."""
    table = Table(title=Text(title), show_header=True)
    table.add_column("Field")
    table.add_column("Value", overflow="fold")
    for name, value in rows:
        table.add_row(name, cell(value))
    console().print(table)


def rows(title: str, columns: Sequence[str], items: Iterable[Row]) -> None:
    """Print a list as a table with one row per item."""
    table = Table(title=Text(title), show_header=True)
    for column in columns:
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(*(cell(value) for value in item))
    console().print(table)


def as_json(value: BaseModel | Sequence[BaseModel], name: str | None = None) -> None:
    """Print a model, or ``{name: [models]}``, as indented JSON (secrets masked)."""
    if isinstance(value, BaseModel):
        print(value.model_dump_json(indent=2))
        return
    body = [item.model_dump(mode="json") for item in value]
    print(json.dumps({name: body} if name else body, indent=2))
