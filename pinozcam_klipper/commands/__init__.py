"""Subcommands of the ``pinozcam`` command line; each exposes add_arguments() and run()."""
