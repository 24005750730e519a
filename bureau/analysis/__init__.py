"""Analysis: everything the bureaus and the aggregator believe, measured against the truth."""

from bureau.analysis.file_accuracy import ACCURACY_COLUMNS, assess_bureau, assess_files

__all__ = ["ACCURACY_COLUMNS", "assess_bureau", "assess_files"]
