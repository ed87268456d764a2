"""Benchmark venvfill against pip and uv, side by side, in one run.

Run by hand (not in CI): ``python benchmarks/bench.py [--rounds N] [--work DIR]``.
It needs the network once, to install uv into a throwaway venv and to download
the real-world wheelhouse into its work directory; later runs reuse both.

Scenarios, each measured for every tool with the runs interleaved (A B C A B C
...) so that machine noise hits all tools alike; medians and ratios reported:

1. cold fill: a new venv, empty caches (uv's and venvfill's caches are emptied
   before each run; pip has no cache for local wheels);
2. warm fill: a new venv, caches as the previous run left them (venvfill
   replays the recipe the previous fill of that path kept: recipes.py);
   ``warm-full``: the same with venvfill's recipe removed before each run, so
   it resolves and installs in full;
3. no-op: the same command again on the filled venv, and a bare ``python -c pass``;
4. synthetic: resolution and fill from a generated wheelhouse (hundreds of
   packages, several versions, a graph that forces backtracking); venvfill's
   recipe is removed before each run, so that it resolves every time;
5. peak memory (max RSS of the tool's process tree) of each.

Every tool fills a ``--system-site-packages`` venv of the same base interpreter
from the same local wheel directory, offline.

``--baseline TREE``: another venvfill source tree (a ``git worktree`` of an earlier
commit) runs as a fourth tool, with a cache of its own, in the same interleaved
rounds: its ratios to uv are measured under the same conditions as the working
tree's, which is what the 10% guard rail compares (uv's own times move by a
third between runs on this machine).

Nothing is deleted while the benchmark measures: old venvs, emptied caches and
forgotten recipes are renamed into ``graveyard/``, which is deleted at the end.
On ext4 without a journal (the project's benchmark machine), the kernel does not
reuse an inode for 60 s after its deletion (360 s while its inode table block is
unwritten), and every new file or directory scans past each such inode: right
after pip's venv of 8,000 files was deleted, a ``mkdir`` cost 350 us instead of
25-50, and the tool that happened to run next paid for it (perf: ``recently_deleted``
under ``__ext4_new_inode``, a fifth of the profile).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from wheelfactory import build_wheel  # noqa: E402  (the tests' wheel builder)

REAL = ["meson==1.10.0", "sphinx==6.2.1", "sphinx_rtd_theme==1.2.2"]
REAL_MANIFEST = """\
[meson]
meson = { accepted = ">=1.10.0", installed = "1.10.0", canary = "meson" }
[docs]
sphinx = { accepted = ">=6.2.1", installed = "6.2.1", canary = "sphinx-build" }
sphinx_rtd_theme = { accepted = ">=1.2.2", installed = "1.2.2" }
"""


class Graveyard:
    """Where the benchmark puts what it would delete, until the end (see above)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0

    def bury(self, path: Path) -> None:
        if os.path.lexists(path):
            self.directory.mkdir(parents=True, exist_ok=True)
            self.count += 1
            os.rename(path, self.directory / str(self.count))

    def clear(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        os.sync()  # written inode tables: the kernel waits 60 s, not 360 s, to reuse them


def sh(cmd: Sequence[str | Path], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], check=True, text=True,
                          capture_output=True, **kw)  # type: ignore[call-overload]


def timed(cmd: Sequence[str | Path], env: dict[str, str], cwd: Path) -> tuple[float, int]:
    """Wall time (s) and peak RSS (kB) of one command and everything it waited for."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"benchmark command failed: {' '.join(map(str, cmd))}\n"
                             f"{err.read().decode(errors='replace')}")
    return elapsed, usage.ru_maxrss


def setup(work: Path, base: str) -> dict[str, Path]:
    """Tools and wheelhouses, made once and reused."""
    work.mkdir(parents=True, exist_ok=True)
    tools = work / "tools"
    if not (tools / "bin" / "uv").exists():
        sh([base, "-m", "venv", tools])
        sh([tools / "bin" / "pip", "install", "-q", "uv", "pip"])
    # Always the working tree's venvfill: the benchmark measures the code as it is.
    # pip reinstalls a local directory every time, and installs the dependencies the
    # tools venv lacks (with --no-deps a new work directory's venvfill could not start).
    sh([tools / "bin" / "pip", "install", "-q", ROOT])
    real = work / "real-wheels"
    if not real.exists():
        tmp = work / "real-wheels.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        sh([tools / "bin" / "pip", "download", "-q", "--only-binary=:all:", "-d", tmp,
            "--python-version", sh([base, "-c", "import sys; print('%d.%d' % "
                                    "sys.version_info[:2])"]).stdout.strip(), *REAL])
        tmp.rename(real)
    synthetic = work / "synthetic-wheels"
    if not synthetic.exists():
        make_synthetic(work / "synthetic-wheels.tmp")
        (work / "synthetic-wheels.tmp").rename(synthetic)
    return {"tools": tools, "real": real, "synthetic": synthetic}


SYNTH_PACKAGES, SYNTH_VERSIONS = 300, 4


def make_synthetic(directory: Path) -> None:
    """A layered graph: p{i} v depends on two packages of the next layer at >= v;
    the top also requires leaf<2 while the newest versions of the middle require
    leaf>=2, so the resolver must back off from the newest versions.
    """
    directory.mkdir(parents=True)
    width = 30
    for i in range(SYNTH_PACKAGES):
        layer = i // width
        for v in range(1, SYNTH_VERSIONS + 1):
            requires = []
            if (i + 1) // width > layer or i + width < SYNTH_PACKAGES:
                for j in (i + width, i + width + 1):
                    if j < SYNTH_PACKAGES:
                        requires.append(f"p{j}>={max(1, v - 1)}")
            if v == SYNTH_VERSIONS and layer == 4:
                requires.append("leaf>=2")
            build_wheel(directory, f"p{i}", f"{v}.0", requires=requires)
    for v in (1, 2):
        build_wheel(directory, "leaf", f"{v}.0")


def synth_roots() -> list[str]:
    return [f"p{i}" for i in range(30)] + ["leaf<2"]


class Tool:
    """How one tool makes ``venv`` and fills it from ``wheels``.

    ``create`` runs only for a new venv; ``fill`` every time (a no-op re-run is
    ``fill`` alone on the filled venv).
    """

    def __init__(self, name: str, create: Callable[[Path], list[list[str]]],
                 fill: Callable[[Path, Path, Path], list[list[str]]],
                 clean_cache: Callable[[], None] | None = None,
                 before: Callable[[], None] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.create = create
        self.fill = fill
        self.clean_cache = clean_cache or (lambda: None)
        self.before = before or (lambda: None)
        """Untimed preparation before every run (e.g. forget venvfill's recipes)."""
        self.env = env or {}
        """Variables set for this tool's commands only (a baseline's own cache)."""


def run_scenario(tools: list[Tool], rounds: int, base_dir: Path, wheels: Path,
                 manifest: Path, env: dict[str, str], graveyard: Graveyard, *,
                 cold: bool, noop: bool) -> dict[str, dict[str, float]]:
    times: dict[str, list[float]] = {t.name: [] for t in tools}
    rss: dict[str, list[int]] = {t.name: [] for t in tools}
    for r in range(rounds + 1):  # round 0 warms the page cache and is not counted
        for tool in tools:
            venv = base_dir / f"{tool.name}-venv"
            commands = tool.fill(venv, wheels, manifest)
            if not noop:
                graveyard.bury(venv)
                commands = tool.create(venv) + commands
            if cold:
                tool.clean_cache()
            tool.before()
            total, peak = 0.0, 0
            for cmd in commands:
                elapsed, maxrss = timed(cmd, {**env, **tool.env}, base_dir)
                total += elapsed
                peak = max(peak, maxrss)
            if r:
                times[tool.name].append(total)
                rss[tool.name].append(peak)
    return {name: {"median_s": statistics.median(ts), "peak_rss_mb":
                   max(rss[name]) / 1024} for name, ts in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--work", type=Path,
                        default=Path.home() / ".cache" / "venvfill-bench")
    parser.add_argument("--python", default=sys.executable,
                        help="base interpreter of every venv (default: this one)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--baseline", type=Path,
                        help="another venvfill source tree to measure beside this one")
    args = parser.parse_args()
    graveyard = Graveyard(args.work / "graveyard")
    graveyard.clear()  # an interrupted run's
    run_dir = args.work / "run"
    graveyard.bury(run_dir)
    paths = setup(args.work, args.python)
    bin_ = paths["tools"] / "bin"
    run_dir.mkdir()
    uv_cache = args.work / "uv-cache"
    vf_cache = args.work / "venvfill-cache"
    env = {**os.environ, "UV_CACHE_DIR": str(uv_cache), "VENVFILL_CACHE_DIR": str(vf_cache),
           "UV_NO_PROGRESS": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "NO_COLOR": "1"}
    base = args.python

    def reqs_file(name: str, reqs: list[str]) -> Path:
        path = run_dir / name
        path.write_text("\n".join(reqs) + "\n")
        return path

    baseline_bin = None
    if args.baseline is not None:
        baseline_tools = args.work / "tools-baseline"
        if not (baseline_tools / "bin" / "python").exists():
            sh([base, "-m", "venv", baseline_tools])
        sh([baseline_tools / "bin" / "pip", "install", "-q", args.baseline.resolve()])
        baseline_bin = baseline_tools / "bin"
    baseline_cache = args.work / "baseline-cache"

    def venvfills(recipes: bool) -> list[Tool]:
        # recipes=False: venvfill forgets the recipe of the last fill before each run,
        # so that it resolves and installs in full (recipes.py).
        found = [("venvfill", bin_, vf_cache)]
        if baseline_bin is not None:
            found.append(("baseline", baseline_bin, baseline_cache))
        return [Tool(name, lambda v: [],
                     lambda v, w, m, b=b: [[str(b / "venvfill"), "--manifest", str(m),
                                            "--python", base, "--venv", str(v),
                                            "--wheels", str(w), "--offline", "-q"]],
                     clean_cache=lambda c=c: graveyard.bury(c),
                     before=None if recipes else
                     lambda c=c: graveyard.bury(c / "recipes"),
                     env={"VENVFILL_CACHE_DIR": str(c)})
                for name, b, c in found]

    def tools_for(reqs: Path, *, recipes: bool = True) -> list[Tool]:
        return [
            *venvfills(recipes),
            Tool("uv",
                 lambda v: [[str(bin_ / "uv"), "venv", "-q", "--system-site-packages",
                             "-p", base, str(v)]],
                 lambda v, w, m: [[str(bin_ / "uv"), "pip", "install", "-q", "--offline",
                                   "--no-index", "--find-links", str(w),
                                   "-p", str(v / "bin" / "python"), "-r", str(reqs)]],
                 clean_cache=lambda: graveyard.bury(uv_cache)),
            Tool("pip",
                 lambda v: [[base, "-m", "venv", "--system-site-packages", str(v)]],
                 lambda v, w, m: [[str(v / "bin" / "python"), "-m", "pip", "install", "-q",
                                   "--no-index", "--find-links", str(w), "-r", str(reqs)]]),
        ]

    real_reqs = reqs_file("real.txt", REAL)
    real_manifest = run_dir / "real.toml"
    real_manifest.write_text(REAL_MANIFEST)
    synth_reqs = reqs_file("synth.txt", synth_roots())
    synth_manifest = run_dir / "synth.toml"
    lines = ["[g]"]
    for root in synth_roots():
        name = root.split("<")[0]
        lines.append(f'{name} = "{root[len(name):]}"')
    synth_manifest.write_text("\n".join(lines) + "\n")

    def measure(tools: list[Tool], wheels: Path, manifest: Path, *, cold: bool = False,
                noop: bool = False, rounds: int = args.rounds) -> dict[str, dict[str, float]]:
        return run_scenario(tools, rounds, run_dir, wheels, manifest, env, graveyard,
                            cold=cold, noop=noop)

    results: dict[str, object] = {}
    real_tools = tools_for(real_reqs)
    print(f"base {base}; {args.rounds} rounds each, interleaved; medians", flush=True)
    try:
        results["cold"] = measure(real_tools, paths["real"], real_manifest, cold=True)
        results["warm"] = measure(real_tools, paths["real"], real_manifest)
        # The same without the recipe: what a warm fill costs when it must decide.
        results["warm-full"] = measure(tools_for(real_reqs, recipes=False), paths["real"],
                                       real_manifest)
        # The bare start runs among the no-op runs (A B C bare A B C bare ...), so the
        # ratio compares runs made under the same machine conditions; no-ops are cheap,
        # so this scenario gets five times the rounds.
        bare_tool = Tool("bare", lambda v: [], lambda v, w, m: [[base, "-c", "pass"]])
        noop = measure([*real_tools, bare_tool], paths["real"], real_manifest, noop=True,
                       rounds=args.rounds * 5)
        results["bare_python_s"] = noop.pop("bare")["median_s"]
        results["noop"] = noop
        # Synthetic measures resolution: venvfill may not replay the previous round's.
        results["synthetic"] = measure(tools_for(synth_reqs, recipes=False),
                                       paths["synthetic"], synth_manifest)
    finally:
        graveyard.clear()
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def _rows(results: dict[str, object], tools: tuple[str, ...],
          ) -> list[tuple[str, dict[str, dict[str, float]], list[float]]]:
    # Each scenario's name, its results, and the median times of ``tools`` in order.
    rows = []
    for name in ("cold", "warm", "warm-full", "noop", "synthetic"):
        row = results[name]
        assert isinstance(row, dict)
        rows.append((name, row, [row[t]["median_s"] for t in tools]))
    return rows


def report(results: dict[str, object]) -> None:
    print(f"{'scenario':<10} {'venvfill':>10} {'uv':>10} {'pip':>10} "
          f"{'vf/uv':>7} {'vf/pip':>7} {'RSS vf/uv':>10}")
    for name, row, (vf, uv, pip) in _rows(results, ("venvfill", "uv", "pip")):
        rss = row["venvfill"]["peak_rss_mb"] / row["uv"]["peak_rss_mb"]
        print(f"{name:<10} {vf:>9.3f}s {uv:>9.3f}s {pip:>9.3f}s {vf / uv:>7.2f} "
              f"{vf / pip:>7.2f} {rss:>10.2f}")
    bare = results["bare_python_s"]
    noop = results["noop"]
    assert isinstance(bare, float) and isinstance(noop, dict)
    print(f"no-op venvfill / bare 'python -c pass': "
          f"{noop['venvfill']['median_s'] / bare:.2f} (bare {bare * 1000:.0f} ms)")
    if "baseline" not in noop:
        return
    print(f"\n{'scenario':<10} {'baseline':>10} {'base/uv':>8} {'vf/uv':>7} "
          f"{'vf/uv ÷ base/uv':>16}")
    for name, _, (vf, old, uv) in _rows(results, ("venvfill", "baseline", "uv")):
        print(f"{name:<10} {old:>9.3f}s {old / uv:>8.2f} {vf / uv:>7.2f} {vf / old:>16.2f}")
    print(f"no-op baseline / bare: {noop['baseline']['median_s'] / bare:.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
