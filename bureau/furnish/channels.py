"""Channels: which data source reports what to which bureau, and how late.

A channel joins one source (a lender, a platform, or the courts) to one bureau. Which channels
exist follows the scenario's data-sharing regime:

- ``siloed``: a source reports only to the bureaus whose profile lists it;
- ``shared``: in addition, every lender reports its tradelines and inquiries to every bureau
  through a central body, ``sharing_lag`` months later;
- ``licensed_only``: as ``shared``, but platform data reaches only licensed bureaus.
"""

from __future__ import annotations

from dataclasses import dataclass

from bureau.config.bureaus import COURTS
from bureau.config.scenario import Scenario


@dataclass(frozen=True)
class Channel:
    """One source reporting to one bureau.

    Attributes
    ----------
    bureau
        The receiving bureau's id.
    source
        The lender, platform or ``"courts"``.
    kind
        ``"lender"``, ``"platform"`` or ``"courts"``.
    lag
        Months between the events of a month and the file that carries them.
    central
        True when the data comes through the central body rather than directly.
    contact_lists
        True for a messaging platform, which also sends its members' contact lists.
    """

    bureau: str
    source: str
    kind: str
    lag: int
    central: bool = False
    contact_lists: bool = False

    @property
    def record_types(self) -> tuple[str, ...]:
        """The record types this channel carries."""
        if self.kind == "lender":
            return ("tradeline", "inquiry")
        if self.kind == "platform":
            return ("signal", "contact") if self.contact_lists else ("signal",)
        return ("public_record",)


def source_kind(scn: Scenario, source: str) -> str:
    """Return ``"lender"``, ``"platform"`` or ``"courts"`` for a source id.

    A bank that is both a lender and a platform (its deposit customers) reports as a lender.
    """
    if source == COURTS:
        return "courts"
    if source in scn.lenders:
        return "lender"
    return "platform"


def channels(scn: Scenario, bureau: str) -> list[Channel]:
    """List the channels reporting to one bureau, in a stable order.

    Parameters
    ----------
    scn
        The scenario (its ``sharing`` regime and bureau profiles).
    bureau
        The bureau's id.

    Returns
    -------
    list of Channel
        Direct channels first, then channels through the central body, each sorted by source.
    """
    profile = scn.bureaus[bureau]
    direct: dict[str, Channel] = {}
    for source in sorted(set(profile.sources)):
        kind = source_kind(scn, source)
        if kind == "platform" and scn.sharing == "licensed_only" and not profile.licensed:
            continue
        messaging = kind == "platform" and scn.platforms[source].kind == "messaging"
        direct[source] = Channel(
            bureau, source, kind, profile.reporting_lag, contact_lists=messaging
        )
    central: list[Channel] = []
    if scn.sharing in ("shared", "licensed_only"):
        for lender in sorted(scn.lenders):
            if lender not in direct:
                lag = profile.reporting_lag + scn.sharing_lag
                central.append(Channel(bureau, lender, "lender", lag, central=True))
    return [*direct.values(), *central]
