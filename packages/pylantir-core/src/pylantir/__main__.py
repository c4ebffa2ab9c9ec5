"""``python -m pylantir`` runs the CLI, like the ``pylantir`` console script."""

from pylantir.cli.main import main

main()
