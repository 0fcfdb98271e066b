"""``python -m archspec.cli``."""

from archspec.cli import main

main()
