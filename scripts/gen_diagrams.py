"""Regenerate the diagrams the command docs show (docs/diagrams/*.svg), drawn by
archspec itself: resnet50, resnet56 and densenet121 at stage and block detail.

Run after a change to the renderer or to these presets: ``make docs`` does.
"""

from __future__ import annotations

from pathlib import Path

import archspec

DIAGRAMS = Path(__file__).resolve().parent.parent / "docs" / "diagrams"
SPECS = ("resnet50", "resnet56", "densenet121")
DETAILS = ("stage", "block")


def diagram_path(spec: str, detail: str) -> Path:
    return DIAGRAMS / f"{spec}_{detail}.svg"


def main() -> None:
    DIAGRAMS.mkdir(parents=True, exist_ok=True)
    for spec in SPECS:
        for detail in DETAILS:
            path = archspec.render(spec, diagram_path(spec, detail), detail=detail)
            print(f"wrote {path.relative_to(DIAGRAMS.parent.parent)}")


if __name__ == "__main__":
    main()
