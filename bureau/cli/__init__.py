"""The ``bureau`` command: one module per command, each a thin layer over the library."""
