"""Where each distribution venvfill installed came from: the wheel, its sha256, its URL.

Kept in ``.venvfill/provenance.json`` inside the venv, by distribution name, and
brought up to date after every install: what the SBOM (cli/sbom.py) says of the
venv's own distributions.  The standards record none of it for a wheel picked by
name and version (PEP 610's ``direct_url.json`` is for direct URLs only), and
pip and uv keep no such record.  A recipe replay (_speed/recipes.py) reproduces
the file with the rest of ``.venvfill/``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..owned import STATE_DIR
from ..resolve.plan import Step

FILE = "provenance.json"


def path(venv: Path) -> Path:
    """The record inside ``venv``."""
    return venv / STATE_DIR / FILE


def load(venv: Path) -> dict[str, dict[str, str]]:
    """Name → {"version", "wheel", "sha256", and "url" for an index's wheel}."""
    try:
        data = json.loads(path(venv).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(name): {str(k): str(v) for k, v in record.items()}
            for name, record in data.items() if isinstance(record, dict)}


def update(venv: Path, steps: Sequence[Step], digests: Mapping[Path, str]) -> None:
    """Record the wheels ``steps`` installed, forget the distributions they removed.

    ``digests``: the sha256 of wheels already known (cache entries), by path; any
    other wheel's comes from what verified it.
    """
    records: dict[str, Any] = load(venv)
    for step in steps:
        if step.action in ("install", "replace") and step.wheel is not None:
            wheel = step.wheel
            digest = digests.get(wheel.path) or wheel.sha256()
            record = {"version": str(step.version), "wheel": wheel.filename,
                      "sha256": digest}
            url = getattr(getattr(wheel, "file", None), "url", None)
            if url:
                record["url"] = url
            records[step.name] = record
        elif step.action == "remove":
            records.pop(step.name, None)
    target = path(venv)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(FILE + ".tmp")
    tmp.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, target)
