"""Editing model files as a tamperer would: the edit, and both hashes forged to match it."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path


def seal(directory: Path) -> None:
    """Forge both hashes of a model directory after editing it, as a tamperer would."""
    card_path = directory / "model_card.json"
    card = json.loads(card_path.read_text())
    card["model_sha256"] = hashlib.sha256((directory / card["model_file"]).read_bytes()).hexdigest()
    card.pop("card_sha256", None)
    canonical = json.dumps(card, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    card["card_sha256"] = hashlib.sha256(canonical.encode("ascii")).hexdigest()
    card_path.write_text(json.dumps(card, indent=1, sort_keys=True) + "\n")


def resize_trees(text: str) -> str:
    """Rewrite a model's tree_sizes to fit its edited trees, as a careful tamperer would."""
    head, _, rest = text.partition("\n\nTree=")
    body, end, tail = ("Tree=" + rest).partition("end of trees\n")
    blocks = [b for b in re.split(r"(?=^Tree=\d+$)", body, flags=re.M) if b]
    sizes = " ".join(str(len(b.encode())) for b in blocks)
    head = re.sub(r"^tree_sizes=.*$", f"tree_sizes={sizes}", head, flags=re.M)
    return head + "\n\n" + body + end + tail
