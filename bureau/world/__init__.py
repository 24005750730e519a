"""The synthetic world: the ground truth every bureau sees a partial, late and noisy view of."""

from bureau.formats.national_id import validate_national_ids
from bureau.world.generate import TABLES, generate_chunk
from bureau.world.repayment import STATUS_LABELS
from bureau.world.world import World, simulate, write_world

__all__ = [
    "STATUS_LABELS",
    "TABLES",
    "World",
    "generate_chunk",
    "simulate",
    "validate_national_ids",
    "write_world",
]
