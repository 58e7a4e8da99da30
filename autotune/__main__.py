"""``python -m autotune`` runs the CLI."""

from .cli import main

main()
