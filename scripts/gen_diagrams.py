"""Regenerate the diagrams the docs show (docs/diagrams/*.svg), drawn by archspec itself:
resnet50, resnet56 and densenet121 at stage and block detail, the example specs the
pages discuss (examples/, at block detail), and for the page on 1-D and 3-D networks
(docs/ranks.md) r2plus1d_18 at block detail and the 1-D ResNet-18 at stage detail.

Run after a change to the renderer or to these presets: ``make docs`` does.
"""

from __future__ import annotations

from pathlib import Path

import archspec

ROOT = Path(__file__).resolve().parent.parent
DIAGRAMS = ROOT / "docs" / "diagrams"
SPECS = ("resnet50", "resnet56", "densenet121")
DETAILS = ("stage", "block")
# name -> spec file: the examples a page shows, drawn at block detail (docs/norms.md)
EXAMPLES = {"resnet18_gn_os8": ROOT / "examples" / "norms" / "resnet18_gn_os8.yaml"}
# docs/ranks.md: (spec, file stem, detail)
RANKS = (
    ("r2plus1d_18", "r2plus1d_18", "block"),
    (str(ROOT / "examples" / "ranks" / "resnet18_1d.yaml"), "resnet18_1d", "stage"),
)


def diagram_path(spec: str, detail: str) -> Path:
    return DIAGRAMS / f"{spec}_{detail}.svg"


def main() -> None:
    DIAGRAMS.mkdir(parents=True, exist_ok=True)
    for spec in SPECS:
        for detail in DETAILS:
            path = archspec.render(spec, diagram_path(spec, detail), detail=detail)
            print(f"wrote {path.relative_to(DIAGRAMS.parent.parent)}")
    for name, spec_file in EXAMPLES.items():
        path = archspec.render(spec_file, diagram_path(name, "block"), detail="block")
        print(f"wrote {path.relative_to(DIAGRAMS.parent.parent)}")
    for spec, stem, detail in RANKS:
        path = archspec.render(spec, diagram_path(stem, detail), detail=detail)
        print(f"wrote {path.relative_to(DIAGRAMS.parent.parent)}")


if __name__ == "__main__":
    main()
