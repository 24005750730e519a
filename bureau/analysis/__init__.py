"""Analysis: everything the bureaus and the aggregator believe, measured against the truth.

Functions of tables that return tables: the stages that call them read the truth and the
bureaus' files, and write what comes out.
"""

from bureau.analysis.file_accuracy import (
    ACCURACY_COLUMNS,
    CONSUMER_ERROR_COLUMNS,
    assess_bureau,
    consumer_errors,
    read_provenance,
)

__all__ = [
    "ACCURACY_COLUMNS",
    "CONSUMER_ERROR_COLUMNS",
    "assess_bureau",
    "consumer_errors",
    "read_provenance",
]
