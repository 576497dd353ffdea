"""``python -m erroracle`` runs the command line."""

from erroracle.cli import main

main()
