"""One module per ``zoho_tokens`` subcommand: ``HELP``, ``add_arguments``, ``handle``."""
