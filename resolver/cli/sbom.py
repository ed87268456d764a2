"""``venvfill sbom`` and ``--sbom``: a CycloneDX 1.6 bill of materials of a venv.

Every distribution the venv's interpreter sees: the venv's own, a parent venv's and
the base installation's, each with its package URL (``pkg:pypi/name@version``),
where it lives, who installed it (``INSTALLER``: venvfill, pip, the distribution's
packager), its licence, what it requires, and for what venvfill installed, the
wheel's file name, sha256 and index URL (install/provenance.py).  The same venv
gives the same bytes: components and dependencies are sorted, the serial number
is derived from the content, and the timestamp is ``SOURCE_DATE_EPOCH``'s, or
left out when it is not set.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from packaging.markers import UndefinedComparison
from packaging.utils import NormalizedName, canonicalize_name

from .. import __version__
from ..install import provenance
from ..resolve.candidates import installed_requires
from ..target.interpreter import Installed, Target

_LICENSE_CLASSIFIER = "License :: "


def document(target: Target) -> dict[str, Any]:
    """The SBOM of the venv ``target`` describes (probed with its own interpreter)."""
    visible = target.visible()
    origins = provenance.load(target.venv.path)
    refs = {id(d): _ref(d) for dists in visible.values() for d in dists}
    components = [_component(d, refs[id(d)], origins.get(d.name) if d.source == "venv"
                             else None)
                  for dists in visible.values() for d in dists]
    dependencies = []
    for dists in visible.values():
        for dist in dists:
            needs = {refs[id(visible[n][0])] for n in _requires(dist, target.markers)
                     if n in visible}
            dependencies.append({"ref": refs[id(dist)], "dependsOn": sorted(needs)})
    venv_ref = "venv"
    top = sorted(refs[id(dists[0])] for dists in visible.values())
    dependencies.append({"ref": venv_ref, "dependsOn": top})
    body: dict[str, Any] = {
        "components": sorted(components, key=lambda c: c["bom-ref"]),
        "dependencies": sorted(dependencies, key=lambda d: d["ref"]),
    }
    metadata: dict[str, Any] = {
        "tools": {"components": [{"type": "application", "name": "venvfill",
                                  "version": __version__}]},
        "component": {"type": "application", "bom-ref": venv_ref,
                      "name": target.venv.path.name,
                      "description": f"virtual environment for Python "
                                     f"{target.python_version}",
                      "properties": [{"name": "venvfill:python",
                                      "value": target.python_version}]},
    }
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        metadata["timestamp"] = datetime.fromtimestamp(
            int(epoch), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    serial = uuid.uuid5(uuid.NAMESPACE_URL, "venvfill-sbom:" + json.dumps(body, sort_keys=True))
    return {"bomFormat": "CycloneDX", "specVersion": "1.6",
            "serialNumber": f"urn:uuid:{serial}", "version": 1,
            "metadata": metadata, **body}


def render(target: Target) -> str:
    """The SBOM as JSON text, the same bytes for the same venv."""
    return json.dumps(document(target), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _ref(dist: Installed) -> str:
    # Unique among the components: the same name and version may be both the base's
    # and a parent's.
    return f"{dist.source}:{_purl(dist)}"


def _purl(dist: Installed) -> str:
    # Package URL for PyPI: the normalised name, lowercase with dashes.
    return f"pkg:pypi/{dist.name}@{dist.version}"


def _component(dist: Installed, ref: str, origin: Mapping[str, str] | None) -> dict[str, Any]:
    meta = _metadata(dist)
    installer = (dist.read_metadata_file("INSTALLER") or "").strip().splitlines()
    properties = [
        {"name": "venvfill:source", "value": dist.source},
        {"name": "venvfill:location", "value": dist.location},
        {"name": "venvfill:installer", "value": installer[0] if installer else "unknown"},
    ]
    component: dict[str, Any] = {
        "type": "library", "bom-ref": ref, "name": dist.display_name,
        "version": str(dist.version), "purl": _purl(dist),
    }
    licenses = _licenses(meta)
    if licenses:
        component["licenses"] = licenses
    if origin is not None and origin.get("version") == str(dist.version):
        component["hashes"] = [{"alg": "SHA-256", "content": origin["sha256"]}]
        properties.append({"name": "venvfill:wheel", "value": origin["wheel"]})
        if origin.get("url"):
            component["externalReferences"] = [{"type": "distribution",
                                                "url": origin["url"]}]
    component["properties"] = properties
    return component


def _metadata(dist: Installed) -> list[tuple[str, str]]:
    # The header fields of METADATA (or PKG-INFO), in order.
    text = dist.read_metadata_file("METADATA") or dist.read_metadata_file("PKG-INFO") or ""
    head = text.split("\n\n", 1)[0]
    fields: list[tuple[str, str]] = []
    for line in head.splitlines():
        if line[:1] in (" ", "\t") and fields:
            continue  # a continuation (a long License text): the first line is enough
        key, sep, value = line.partition(":")
        if sep:
            fields.append((key.strip().lower(), value.strip()))
    return fields


def _licenses(meta: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    # PEP 639's License-Expression, else the licence classifiers, else a short License.
    fields = list(meta)
    expression = next((v for k, v in fields if k == "license-expression" and v), None)
    if expression:
        return [{"expression": expression}]
    named = [v.rsplit(" :: ", 1)[-1] for k, v in fields
             if k == "classifier" and v.startswith(_LICENSE_CLASSIFIER)
             and v.count(" :: ") >= 2]
    if not named:
        named = [v for k, v in fields if k == "license" and v and len(v) <= 100
                 and v.upper() != "UNKNOWN"]
    return [{"license": {"name": name}} for name in sorted(set(named))]


def _requires(dist: Installed, markers: Mapping[str, str]) -> set[NormalizedName]:
    # The names ``dist`` requires on this target (no extras asked for).
    names: set[NormalizedName] = set()
    for req in installed_requires(dist):
        try:
            if req.marker is not None and not req.marker.evaluate({**markers, "extra": ""}):
                continue
        except UndefinedComparison:
            continue
        names.add(canonicalize_name(req.name))
    return names


def write(target: Target, out: Path | None) -> None:
    """Write the SBOM to ``out`` (atomically), or to standard output when None."""
    text = render(target)
    if out is None:
        from .. import output

        output.emit(text)
        return
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)

