"""The ``pylantir`` command line: one module per command group, assembled in :mod:`pylantir.cli.main`."""
