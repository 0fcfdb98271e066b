"""The code blocks of README.md and every page under docs/, as the docs tests run them
(imported as ``docs_blocks``).

Conventions a page follows:

* A block whose first line is a comment naming a file (``# tiny.yaml: ...``,
  ``# train_ddp.py``) is that file: it is written into the page's working directory,
  not run, so later blocks can use it.
* ``python`` blocks run as scripts, each in a fresh interpreter, in order, in one
  temporary directory per page.
* ``sh``, ``bash`` and ``console`` blocks run (``console``: the ``$ `` lines) when every
  command in them is one of :data:`SHELL_COMMANDS`, i.e. needs nothing outside the
  repository; others (``make``, ``pip``, a database URL) are shown, not run.
* An HTML comment on the line before a block says how to treat it:
  ``<!-- docs-test: skip (why) -->`` or ``<!-- docs-test: slow -->``.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHELL_LANGUAGES = ("sh", "bash", "console")
# What a shell block may call and still be run: the repository's own commands and the
# usual text tools.
TOOLS = {"head", "tail", "grep", "jq", "wc", "ls"}
SHELL_COMMANDS = {"archspec", "python", "torchrun", *TOOLS}
FENCE = re.compile(
    r"(?:^<!--\s*docs-test:\s*(?P<mark>[^>]*?)\s*-->\n)?^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```",
    re.S | re.M,
)
FILE_COMMENT = re.compile(r"^#\s*(?P<name>[\w./-]+\.(?:ya?ml|py|json))\b")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    body: str
    mark: str  # "", "slow", "skip (...)"

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def file_name(self) -> str | None:
        """The file this block is, when its first line names one."""
        first = self.body.split("\n", 1)[0]
        match = FILE_COMMENT.match(first)
        return match["name"] if match else None

    @property
    def skipped(self) -> bool:
        return self.mark.startswith("skip")

    def commands(self) -> list[str]:
        """A shell block's command lines (a ``console`` block's ``$`` lines)."""
        lines = self.body.splitlines()
        if self.lang == "console" or any(line.startswith("$ ") for line in lines):
            return [line[2:] for line in lines if line.startswith("$ ")]
        return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]

    def runnable_shell(self) -> bool:
        """Whether every command of this shell block is one of :data:`SHELL_COMMANDS`."""
        commands = self.commands()
        if not commands:
            return False
        for command in commands:
            for part in re.split(r"\|\|?|&&|;", command.split(" #")[0]):
                words = shlex.split(part)
                while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value command
                    words = words[1:]
                if words and words[0] not in SHELL_COMMANDS:
                    return False
                # jq and the like are outside the repository: run only where installed.
                if words and words[0] in TOOLS and shutil.which(words[0]) is None:
                    return False
        return True


def pages() -> list[Path]:
    """README.md and every Markdown page under docs/, found afresh each run, so pages
    added later are covered without a change here."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    found = []
    for match in FENCE.finditer(text):
        start = match.start("lang")
        found.append(
            Block(
                page=page,
                line=text.count("\n", 0, start) + 1,
                lang=match["lang"],
                body=match["body"],
                mark=(match["mark"] or "").strip(),
            )
        )
    return found


def yaml_specs(page: Path) -> list[Block]:
    """The page's YAML blocks that are specs (they have stages, or extend another)."""
    return [
        b
        for b in blocks(page)
        if b.lang == "yaml" and re.search(r"^(stages|extends):", b.body, re.M) and not b.skipped
    ]
