"""Resolver scenarios side by side: packse's suite through venvfill, pip and uv, offline.

    python benchmarks/scenarios.py SCENARIOS_DIR [--only NAME] [--json OUT]

SCENARIOS_DIR holds packse's scenario files (``scenarios/`` of the packse sdist on
PyPI: ``pip download --no-binary :all: --no-deps packse``).  For each scenario
this script writes the scenario's packages as wheels and sdists into a directory
of their own (sdists build with the test suite's tiny PEP 517 backend, whose
wheel is put beside them), the root requirements as a requirements file, and asks each tool for a
resolution for the scenario's Python from pyenv, offline:

* venvfill: ``--manifest requirements.txt --dry-run --json --offline``;
* pip: ``pip install --dry-run --ignore-installed --report --no-index --find-links``;
* uv: ``uv pip install --dry-run --no-index --find-links`` on a fresh venv.

A tool passes a scenario when it resolves exactly when packse expects it to and,
if so, picks the expected version of each package packse names.  Scenarios no
installer can run this way are counted apart: universal (lock) resolution,
another platform, yanked files (a find-links directory has no yanking).

Needs pyenv's CPython versions, and uv and pip on PATH or in ``--tools`` (a venv).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_sdists import backend_wheel, sdist  # noqa: E402

from conftest import find_python  # noqa: E402
from wheelfactory import build_wheel  # noqa: E402

DEFAULT_REQUIRES_PYTHON = ">=3.12"
"""packse's default for a package version's Requires-Python."""


def load(path: Path) -> list[dict[str, Any]]:
    """The scenarios of one packse file (TOML or JSON); none for other files."""
    if path.suffix == ".toml":
        return [tomllib.loads(path.read_text())]
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        return data if isinstance(data, list) else [data]
    return []


def not_applicable(scenario: dict[str, Any]) -> str | None:
    """Why no installer can run the scenario from a directory of files; None if one can."""
    options = scenario.get("resolver_options", {})
    if options.get("universal"):
        return "universal (lock) resolution"
    if options.get("python_platform") or options.get("required_environments"):
        return "another platform"
    for package in scenario.get("packages", {}).values():
        if any(v.get("yanked") for v in package.get("versions", {}).values()):
            return "yanked files (need an index)"
    return None


def write_packages(scenario: dict[str, Any], out: Path) -> None:
    """Every wheel and sdist of the scenario, and the backend's wheel, into ``out``."""
    out.mkdir(parents=True)
    backend_wheel(out)
    for name, package in scenario.get("packages", {}).items():
        for version, meta in package.get("versions", {}).items():
            requires_python = meta.get("requires_python", DEFAULT_REQUIRES_PYTHON)
            requires, extras = meta.get("requires", []), meta.get("extras", {})
            if meta.get("wheel", True):
                for tag in meta.get("wheel_tags") or ["py3-none-any"]:
                    build_wheel(out, name, version, requires=requires,
                                requires_python=requires_python, extras=extras, tag=tag)
            if meta.get("sdist", True):
                project = {"name": name, "version": version, "dependencies": requires,
                           "optional-dependencies": extras}
                if requires_python:
                    project["requires-python"] = requires_python
                sdist(out, name, version, pyproject=(
                    '[build-system]\nrequires = ["tinyback"]\nbuild-backend = "tinyback"\n'
                    f"[project]\n{_toml(project)}"))


def _toml(table: dict[str, Any]) -> str:
    # A flat [project] table with one nested table (optional-dependencies), as TOML.
    lines = [f"{key} = {json.dumps(value)}" for key, value in table.items()
             if not isinstance(value, dict)]
    nested = [(key, value) for key, value in table.items() if isinstance(value, dict)]
    for key, value in nested:
        lines.append(f"[project.{key}]")
        lines.extend(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in value.items())
    return "\n".join(lines) + "\n"


def target_python(scenario: dict[str, Any]) -> str | None:
    """The scenario's Python from pyenv (X.Y: a patch version is not had)."""
    options = scenario.get("resolver_options", {})
    version = options.get("python") or scenario.get("environment", {}).get("python", "3.12")
    return find_python(".".join(version.split(".")[:2]))


def _policy(options: dict[str, Any], pre: str) -> list[str]:
    # The scenario's resolver options, as each tool spells them (``pre``: --pre).
    args = [pre] if options.get("prereleases") else []
    for name in options.get("no_binary", []):
        args += ["--no-binary", name]
    for name in options.get("no_build", []):
        args += ["--only-binary", name]
    return args


def run_venvfill(work: Path, python: str, options: dict[str, Any]) -> dict[str, str] | None:
    """The versions venvfill chose, by name; None if it found none."""
    args = [sys.executable, "-m", "resolver", "--manifest", "requirements.txt",
            "--python", python, "--venv", "venv", "--wheels", "dist", "--offline",
            "--dry-run", "--json", *_policy(options, "--pre")]
    proc = subprocess.run(args, cwd=work, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT),
                               "VENVFILL_CACHE_DIR": str(work / "vf-cache")})
    if proc.returncode != 0:
        return None
    report = json.loads(proc.stdout)
    return {p["name"]: p["version"] for p in report["packages"]}


def run_pip(work: Path, python: str, options: dict[str, Any],
            pip: str) -> dict[str, str] | None:
    """The versions pip chose for ``python`` (pip run by ``pip``, with --python), or None."""
    args = [pip, "-m", "pip", "--python", python, "install", "--dry-run",
            "--ignore-installed", "-q",
            "--report", "pip.json", "--no-index", "--find-links", "dist",
            "-r", "requirements.txt", "--disable-pip-version-check",
            *_policy(options, "--pre")]
    proc = subprocess.run(args, cwd=work, capture_output=True, text=True,
                          env={**os.environ, "PIP_CONFIG_FILE": os.devnull})
    if proc.returncode != 0:
        return None
    report = json.loads((work / "pip.json").read_text())
    return {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in report["install"]}


def run_uv(work: Path, python: str, options: dict[str, Any], uv: str) -> dict[str, str] | None:
    """The versions uv chose, installing into a new venv of ``python``, or None."""
    env = {**os.environ, "UV_CACHE_DIR": str(work / "uv-cache"), "UV_NO_CONFIG": "1"}
    subprocess.run([uv, "venv", "-q", "-p", python, "uv-venv"], cwd=work, check=True,
                   capture_output=True, env=env)
    args = [uv, "pip", "install", "--dry-run", "--offline", "--no-index", "--find-links",
            "dist", "-p", "uv-venv/bin/python", "-r", "requirements.txt",
            *_policy(options, "--prerelease=allow")]
    proc = subprocess.run(args, cwd=work, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return None
    chosen = {}
    for line in proc.stderr.splitlines():
        line = line.strip()
        if line.startswith("+ ") and "==" in line:
            name, _, version = line[2:].partition("==")
            chosen[name.strip().lower()] = version.strip()
    return chosen


def verdict(expected: dict[str, Any], chosen: dict[str, str] | None) -> bool:
    """Whether ``chosen`` is what packse expects."""
    if not expected.get("satisfiable"):
        return chosen is None
    if chosen is None:
        return False
    return all(chosen.get(name) == version
               for name, version in expected.get("packages", {}).items())


def main() -> int:
    """Run every scenario with each tool; print the verdicts and the counts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", type=Path)
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--tools", type=Path, help="a venv with uv and pip (else PATH's)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    uv = str(args.tools / "bin" / "uv") if args.tools else shutil.which("uv")
    pip = str(args.tools / "bin" / "python") if args.tools else sys.executable
    if uv is None:
        parser.error("uv not found: give --tools VENV")
    results: list[dict[str, Any]] = []
    for path in sorted(args.scenarios.rglob("*")):
        for scenario in load(path):
            name = scenario.get("name", path.stem)
            if args.only and name not in args.only:
                continue
            row: dict[str, Any] = {"name": name, "file": str(path.relative_to(args.scenarios)),
                                   "expected": scenario.get("expected", {})}
            skip = not_applicable(scenario)
            python = None if skip else target_python(scenario)
            if skip is None and python is None:
                skip = "no such Python here"
            if skip is not None:
                row["skipped"] = skip
                results.append(row)
                print(f"{name:<70} n/a: {skip}", flush=True)
                continue
            options = scenario.get("resolver_options", {})
            with tempfile.TemporaryDirectory(prefix="scenario-") as tmp:
                work = Path(tmp)
                write_packages(scenario, work / "dist")
                (work / "requirements.txt").write_text(
                    "\n".join(scenario.get("root", {}).get("requires", [])) + "\n")
                for tool, run in (("venvfill", run_venvfill),
                                  ("pip", lambda w, p, o: run_pip(w, p, o, pip)),
                                  ("uv", lambda w, p, o: run_uv(w, p, o, uv))):
                    chosen = run(work, python, options)
                    row[tool] = {"chosen": chosen,
                                 "pass": verdict(row["expected"], chosen)}
            results.append(row)
            marks = " ".join(f"{t}={'pass' if row[t]['pass'] else 'FAIL'}"
                             for t in ("venvfill", "pip", "uv"))
            print(f"{name:<70} {marks}", flush=True)
    ran = [r for r in results if "skipped" not in r]
    print(f"\n{len(results)} scenarios; {len(results) - len(ran)} not applicable to an "
          f"installer here; of the other {len(ran)}:")
    for tool in ("venvfill", "pip", "uv"):
        passed = sum(1 for r in ran if r[tool]["pass"])
        print(f"  {tool:<9} {passed} pass, {len(ran) - passed} fail")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
