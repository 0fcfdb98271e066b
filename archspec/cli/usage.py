"""How commands show themselves in usage lines and help: ``SPEC``, ``SPECS...``,
``-o FILE``, ``--seed N``, as man pages write them, instead of typer's own
``{spec}`` and ``<list[str]>`` placeholders.

Every command registered on :data:`archspec.cli.common.app` gets this through
:class:`App`, so a command file only writes a ``metavar=`` where the default word
(derived from the value's type or the option's name) would not say enough.

Example::

    from archspec.cli.usage import App

    app = App()

    @app.command()
    def build(spec: str, seed: int | None = None) -> None: ...
    # Usage: archspec build [OPTIONS] SPEC    and    --seed N
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand

# The word an option's value gets when its declaration names none, by the value's type.
_TYPE_WORDS: dict[Any, str] = {Path: "FILE", int: "N", float: "X"}


def _base(annotation: Any) -> Any:
    """``list[int] | None`` -> ``int``: the type of one value of an option."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (list, tuple) or (args and len(args) == 1):
        return _base(args[0]) if args else annotation
    return annotation


def _argument_word(param: Any) -> str:
    word = param.metavar or param.name.upper()
    return f"{word}..." if param.nargs != 1 else word


class Command(TyperCommand):
    """A typer command whose usage line and help name values as words (``SPEC``,
    ``FILE``, ``N``), never as ``{spec}`` or ``<list[str]>``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.metavar is not None or param.param_type_name != "option":
                continue
            if getattr(param, "is_flag", False) or getattr(param, "count", False):
                continue
            annotation = _base(param.type_descriptor.annotation)
            param.metavar = _TYPE_WORDS.get(annotation, param.name.upper())

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                word = _argument_word(param)
                pieces.append(word if param.required else f"[{word}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument" and not param.hidden:
                help_text = param.help or ""
                if param.required:
                    help_text = f"{help_text}  [required]".strip()
                arguments.append((_argument_word(param), help_text))
            elif param.param_type_name == "option":
                record = param.get_help_record(ctx)
                if record is not None:
                    options.append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)


class App(typer.Typer):
    """A :class:`typer.Typer` whose commands are :class:`Command` unless told otherwise."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
        kwargs.setdefault("cls", Command)
        return super().command(*args, **kwargs)
