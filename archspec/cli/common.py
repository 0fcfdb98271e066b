"""What every command shares: the app, the consoles, loading a spec for a command."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

import archspec
from archspec.cli.usage import App
from archspec.report.console import SafeConsole

app = App(
    # typer's own completion: --install-completion, --show-completion [SHELL]
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Build, check and measure neural networks from declarative YAML specs.\n\n"
    "SPEC is a path to a YAML file or the name of a shipped preset (archspec list). "
    "Tables are rich on a terminal and plain text when piped.\n\n"
    "\b\nExamples:\n"
    "  archspec validate my_net.yaml\n"
    "  archspec summary resnet50 --input 1x3x224x224\n"
    "  archspec render resnet50 -o resnet50.svg --detail block\n"
    "  archspec build resnet50 --seed 0 -o resnet50.pt --emit-python resnet50.py\n"
    "  archspec compare resnet56 plain56\n"
    "  archspec --install-completion    # tab completion in bash, zsh, fish, PowerShell\n\n"
    "\b\nExit codes:\n"
    "  0  ok\n"
    "  1  a spec or graph error, or a file that cannot be read or written\n"
    "     (one or two lines on stderr, no traceback)\n"
    "  2  a usage error: an unknown option, a bad value, a wrong file suffix\n"
    "  3  an internal error (a bug: please report it; ARCHSPEC_DEBUG=1 shows the traceback)",
)
# Every line printed goes through SafeConsole: user text in it is shown escaped.
out = SafeConsole(highlight=False, soft_wrap=True)
err = SafeConsole(stderr=True, highlight=False, soft_wrap=True)


def complete_spec(incomplete: str) -> list[str]:
    """Shell completion of SPEC: the presets and the YAML files that start so."""
    found = [name for name in archspec.presets() if name.startswith(incomplete)]
    folder, _, stem = incomplete.rpartition("/")
    with contextlib.suppress(OSError):
        for path in sorted(Path(folder or ".").iterdir()):
            if path.name.startswith(stem) and (path.is_dir() or path.suffix in (".yaml", ".yml")):
                name = f"{folder}/{path.name}" if folder else path.name
                found.append(name + "/" if path.is_dir() else name)
    return found


SpecArg = Annotated[
    str,
    typer.Argument(
        metavar="SPEC",
        help="A YAML file or a preset name.",
        show_default=False,
        autocompletion=complete_spec,
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        metavar="PATH=VALUE",
        help="Override a field: PATH=VALUE, e.g. stages.2.depth=23.",
    ),
]


def _print_version(value: bool) -> None:
    if value:
        out.print(f"archspec {archspec.__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_print_version,
            is_eager=True,
            help="Print the version of archspec and exit.",
        ),
    ] = False,
    no_progress: Annotated[
        bool,
        typer.Option(
            "--no-progress",
            help="No progress bars or spinners on stderr (as ARCHSPEC_PROGRESS=0 does); "
            "they show only on a terminal, for work longer than a second.",
        ),
    ] = False,
) -> None:
    # The app's help is the Typer(help=...) text; this only carries the global options.
    if no_progress:
        from archspec.progress import ENV

        os.environ[ENV] = "0"  # read by every bar and spinner of this process


class Detail(StrEnum):
    """How much a diagram shows."""

    stage = "stage"
    block = "block"
    layer = "layer"


def _detail(text: str) -> Detail:
    # typer's own enum check words its refusal as a pydantic "Value error, ..."
    try:
        return Detail(text.strip().lower())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not one of {', '.join(Detail)}") from None


def _progress(message: str) -> contextlib.AbstractContextManager[None]:
    """A spinner on stderr for work that takes longer than a second."""
    from archspec.report.console import progress

    return progress(message)


def _each(items: list[Any], description: str) -> Iterator[Any]:
    """``items`` one by one, with a progress bar on stderr if they take over a second."""
    from archspec.progress import bar

    with bar(description, total=len(items)) as advance:
        for item in items:
            yield item
            advance()


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def _load(spec: str, sets: list[str] | None = None) -> archspec.ArchSpec:
    return archspec.load(spec, overrides=sets or None)


def _load_for_writing(
    spec: str, sets: list[str] | None, outputs: list[Path | None]
) -> archspec.ArchSpec:
    """Load ``spec``, refusing outputs that are files it reads (the spec, its extends
    chain) or that are unwritable: checked before any work, so nothing is lost."""
    from archspec.files import refuse_overwriting, writable_target
    from archspec.spec.load import load_with_files

    for path in outputs:
        if path is not None:
            writable_target(path)
    loaded, read = load_with_files(spec, overrides=sets or None)
    refuse_overwriting(outputs, read)
    return loaded


def _shadows(source: str) -> bool:
    """Whether SPEC names both a file and a preset (the file wins)."""
    from archspec.spec.presets import preset_path

    return preset_path(source) is not None and Path(source).is_file()


def _lower(spec: archspec.ArchSpec, source: str, sets: list[str] | None = None) -> Any:
    from archspec.spec.load import with_stage_line

    try:
        return archspec.lower(spec)
    except archspec.GraphError as exc:
        exc = with_stage_line(exc, source, sets or None)  # where the stage is written
        raise archspec.GraphError(f"{source}: {exc}", shapes=exc.shapes) from None


def _count(n: int) -> str:
    return f"{n:,}"
