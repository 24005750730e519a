"""The package's version, as installed (``0+unknown`` in a source tree that is not installed).

A foundation of its own, so that the stages can stamp what they write with the version (a
model card) without importing the root package, which re-exports the floors above them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bureau")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
