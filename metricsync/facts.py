"""What metricsync learnt about targets in earlier runs, kept in .metricsync/state.json.

Only facts a platform cannot be asked directly go here (e.g. a PostHog project that silently
drops tags); the definitions and the platforms stay the sources of truth for everything else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from metricsync.files import write_whole

FILE = "state.json"


def load(state_dir: Path) -> dict[str, dict[str, Any]]:
    try:
        document = json.loads((state_dir / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # an unreadable file: nothing learnt yet
        return {}
    return document if isinstance(document, dict) else {}


def remember(state_dir: Path, learnt: dict[str, dict[str, Any]]) -> None:
    """Merges `learnt` (target -> facts) into .metricsync/state.json, atomically."""
    if not learnt:
        return
    document = load(state_dir)
    for target, facts in learnt.items():
        document.setdefault(target, {}).update(facts)
    state_dir.mkdir(parents=True, exist_ok=True)
    write_whole(state_dir / FILE, json.dumps(document, indent=2, sort_keys=True, allow_nan=False))
