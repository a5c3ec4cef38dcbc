"""Shared paths: the committed vectors live in the repository's test/ folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]


def load_vectors(relative: str) -> Any:
    return json.loads((REPO / relative).read_text(encoding="utf-8"))
