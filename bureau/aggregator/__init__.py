"""The central aggregator: submissions, identity linkage, tradeline reconciliation, consensus.

The aggregator sees only what the bureaus submit to its own database. :func:`receive` checks
and stores a submission; :func:`reconcile_all` links every submitted file into persons (Splink,
and the exact-ID baseline), consolidates each snapshot's tradelines and public records with
their provenance, lists the discrepancies, and fits the consensus score;
:func:`consolidated_file` reads what it holds about one person.
"""

from bureau.aggregator.consensus import ConsensusModel
from bureau.aggregator.consolidated import ConsolidatedFile, NotReconciled, consolidated_file
from bureau.aggregator.linkage import METHODS, LinkageError, LinkResult, link
from bureau.aggregator.linkage_store import person_links
from bureau.aggregator.reconcile import Consolidated, reconcile
from bureau.aggregator.rules import RULES, settle
from bureau.aggregator.stage import reconcile_all
from bureau.aggregator.submission import Received, SubmissionError, receive
from bureau.aggregator.summary import ReconcileSummary

__all__ = [
    "METHODS",
    "RULES",
    "ConsensusModel",
    "Consolidated",
    "ConsolidatedFile",
    "LinkResult",
    "LinkageError",
    "NotReconciled",
    "Received",
    "ReconcileSummary",
    "SubmissionError",
    "consolidated_file",
    "link",
    "person_links",
    "receive",
    "reconcile",
    "reconcile_all",
    "settle",
]
