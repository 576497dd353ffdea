"""``python -m erroracle`` runs the command line."""

from erroracle.command import main

main()
