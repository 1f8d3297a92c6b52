"""``python -m fmnistedge`` runs the CLI."""

from fmnistedge.cli import main

main()
