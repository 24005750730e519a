"""Furnishing: the world's data sources write each bureau's feeds, with each channel's defects."""

from bureau.furnish.channels import Channel, channels
from bureau.furnish.stage import furnish_all, furnish_bureau

__all__ = ["Channel", "channels", "furnish_all", "furnish_bureau"]
