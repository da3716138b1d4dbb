"""Options shared by every command (set on the root command)."""

from __future__ import annotations

from dataclasses import dataclass

import typer

__all__ = ["State"]


@dataclass
class State:
    debug: bool = False

    @classmethod
    def of(cls, ctx: typer.Context) -> State:
        root = ctx.find_root()
        if not isinstance(root.obj, State):
            root.obj = State()
        return root.obj
