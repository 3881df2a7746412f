"""``python -m mitalk`` runs the ``mitalk`` command."""

from mitalk.cli import main

main()
