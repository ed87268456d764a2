"""The documentation stays in step with the code it describes."""

from __future__ import annotations

import re
from pathlib import Path

from resolver import errors

ROOT = Path(__file__).parents[1]


def _exit_code_classes() -> list[type[errors.VenvfillError]]:
    return [c for c in vars(errors).values()
            if isinstance(c, type) and issubclass(c, errors.VenvfillError)]


def test_every_exit_code_is_documented() -> None:
    table = (ROOT / "docs" / "reference" / "exit-codes.md").read_text()
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.M)}
    used = {c.exit_code for c in _exit_code_classes()} | {0, 1, 11, 130}
    assert used <= documented, f"not in docs/reference/exit-codes.md: {used - documented}"


def test_every_environment_variable_read_is_documented() -> None:
    table = (ROOT / "docs" / "reference" / "environment.md").read_text()
    read = set()
    for path in (ROOT / "resolver").rglob("*.py"):
        read |= set(re.findall(r"environ(?:\.get)?[(\[]\"([A-Z][A-Z_]*[A-Z])\"", path.read_text()))
    missing = {name for name in read if f"`{name}`" not in table} - {"HOME"}
    assert not missing, f"not in docs/reference/environment.md: {sorted(missing)}"


def test_links_between_documents_lead_somewhere() -> None:
    broken = []
    for doc in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text()):
            if not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(ROOT)} -> {target}")
    assert not broken, broken
