"""``python -m bureau``: the same as the ``bureau`` command."""

from bureau.cli.main import main

# Guarded: a worker started by spawn imports this module again and must not run the command.
if __name__ == "__main__":
    main()
