"""The paper queue: every ``paper`` profile that needs no external data, run in order inside one time budget.

A GPU session is short (one device call is at most ten minutes), so the ``paper`` runs are prepared as one
queue: ``lsa paper`` walks :data:`ORDER`, and for each chapter

1. resolves its ``paper`` parameters (the same validation as ``lsa run``);
2. skips it, saying why, when an input it names is not on this machine — a path-like parameter
   (``*_path``, ``*_dir``, ``*_root``) that does not exist, a ``model`` that is neither empty nor a local
   folder (a Hugging Face id: nothing is downloaded here), or a Python package that the chapter or the
   ``lsa`` modules it can import need and that is not installed (e.g. the packaged MiniLM on a GPU machine);
3. skips it when its expected duration does not fit in what is left of the budget — the expectation is the
   wall time of its last archived ``paper`` run on the same kind of device (``results/paper/<chapter>``),
   else the planning figure in :data:`ORDER`;
4. otherwise runs it as ``lsa run CHAPTER --profile paper`` in a child process limited to the time left
   (a run cut short never replaces a good one: the runner publishes run folders atomically), and archives
   the finished run into ``results/paper/<chapter>/`` with ``lsa archive``.

``--dry-run`` does steps 1–3 only and prints the plan, so the queue is known to start before device time is
spent on it (CI runs it). Everything printed is also written as JSON with ``--report``.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lsa.digests import import_closure, module_path
from lsa.runner import REPO_ROOT
from lsa.runner.archive import archive_run, results_dir
from lsa.runner.chapters import load_chapter
from lsa.runner.params import resolve

ORDER: tuple[tuple[str, float, float], ...] = (
    # chapter, planning seconds on one GPU, planning seconds on one CPU core
    ("head_overlap", 60.0, 60.0),
    ("alignment_commutator", 180.0, 240.0),
    ("asd_segmentation", 300.0, 7200.0),
    ("pam_certificates", 120.0, 3000.0),
    ("gsa_spectra", 240.0, 4000.0),
    ("alignment_ridge", 300.0, 30000.0),
    ("pam_heatmaps", 300.0, 2400.0),
    ("asd_classification", 420.0, 3600.0),
    ("asd_pipeline", 420.0, 7200.0),
    ("neural_collapse_levels", 600.0, 30000.0),
    ("pruning_perplexity", 600.0, 30000.0),
    ("pruning_cost", 600.0, 30000.0),
)
"""Queue order and planning estimates of each ``paper`` run's wall time in seconds, on one GPU and on one CPU.

The order puts the quick, self-contained runs first so that a short budget still archives most chapters.
The estimates are only used when no archived run of the chapter exists on the same kind of device; they
decide what is *attempted*, never what a run reports. The CPU figures are rough orders of magnitude from the
runs' sizes (e.g. the ridge grid at ``paper`` is 25 nets of width 512 on the 1797 digits for 20 000 full-batch
steps, about 1.5e15 floating-point operations: hours on one core; the Part II chapters took 17–26 minutes at
``default`` on a loaded 2-core machine, and ``paper`` is several times larger), so a CPU queue does not start a
run it cannot finish.
"""

PATH_SUFFIXES = ("_path", "_dir", "_root")


class QueueError(ValueError):
    """A malformed queue request (unknown chapter, non-positive budget)."""


@dataclass
class QueueItem:
    """What the queue did with one chapter."""

    chapter: str
    status: str  # planned | ran | archived | failed | skipped
    reason: str = ""
    expected_s: float = 0.0
    seconds: float = 0.0
    run_dir: str = ""
    archived_to: str = ""
    params: dict = field(default_factory=dict)


def missing_inputs(params: dict, cwd: Path | None = None) -> list[str]:
    """The external inputs that ``params`` name and this machine lacks, as ``name=value`` strings.

    Path-like parameters (``*_path``, ``*_dir``, ``*_root``) that are set and do not exist are missing; so is a
    ``model`` that is set and is not a local folder (a Hugging Face id, which is never downloaded).
    """
    cwd = Path(cwd or Path.cwd())
    out = []
    for name, value in params.items():
        if not isinstance(value, str) or not value:
            continue
        is_path = name.endswith(PATH_SUFFIXES)
        if is_path or name == "model":
            path = Path(os.path.expanduser(value))
            if not path.is_absolute():
                path = cwd / path
            if not path.exists():
                out.append(f"{name}={value}")
    return out


def _top_level_imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def missing_packages(chapter_source: Path) -> list[str]:
    """Third-party modules that a chapter or any ``lsa`` module it can import names, and that are not installed.

    Imports at any depth count (a function-level import of an optional package too), so the check errs on
    the side of skipping a chapter rather than spending device time on a run that fails at an import.
    """
    names = _top_level_imports(Path(chapter_source).read_text())
    for module in import_closure([Path(chapter_source)]):
        names |= _top_level_imports(module_path(module).read_text())
    third_party = {n for n in names if n != "lsa" and n not in sys.stdlib_module_names and n != "__future__"}
    return sorted(n for n in third_party if importlib.util.find_spec(n) is None)


def device_kind() -> str:
    """``cuda:<GPU name>`` when torch sees a GPU, else ``cpu``."""
    import torch

    return f"cuda:{torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "cpu"


def expected_seconds(chapter: str, planning: float, device: str, root: Path = REPO_ROOT) -> float:
    """The wall time of the chapter's archived ``paper`` run on the same kind of device, else ``planning``
    (the planning figure for that kind of device)."""
    run_json = results_dir(root) / "paper" / chapter / "run.json"
    if run_json.is_file():
        run = json.loads(run_json.read_text())
        archived_device = str(run.get("provenance", {}).get("device", ""))
        same_kind = (archived_device == "cpu") == (device == "cpu")
        if same_kind and isinstance(run.get("seconds"), (int, float)):
            return float(run["seconds"])
    return float(planning)


def plan(chapters: list[str] | None = None, root: Path = REPO_ROOT, order=ORDER) -> list[QueueItem]:
    """Resolve and check every queued chapter without running anything (the ``--dry-run`` part)."""
    names = list(chapters) if chapters else [entry[0] for entry in order]
    device = device_kind()
    order = {name: (gpu if device != "cpu" else cpu) for name, gpu, cpu in order}
    unknown = [n for n in names if n not in order]
    if unknown:
        raise QueueError(f"not in the paper queue: {', '.join(unknown)}; queue: {', '.join(order)}")
    items = []
    for name in names:
        chapter = load_chapter(name, root)
        params = resolve(chapter.params, chapter.profiles, "paper", {})
        item = QueueItem(name, "planned", expected_s=expected_seconds(name, order[name], device, root), params=params)
        lacking = missing_inputs(params, root) + [f"package {m}" for m in missing_packages(chapter.path)]
        if lacking:
            item.status = "skipped"
            item.reason = "needs data or weights not on this machine: " + ", ".join(lacking)
        items.append(item)
    return items


def run_queue(
    budget_s: float = 540.0,
    chapters: list[str] | None = None,
    dry_run: bool = False,
    archive: bool = True,
    root: Path = REPO_ROOT,
    log=print,
    order=ORDER,
) -> list[QueueItem]:
    """Run the planned chapters in order inside ``budget_s`` seconds and archive each finished run.

    Parameters
    ----------
    budget_s : float
        Wall-clock budget for the whole queue, > 0 (default nine minutes: one device call is at most ten).
    chapters : list of str, optional
        A subset of the queue, in the order given (default: all of :data:`ORDER`).
    dry_run : bool
        Plan only: resolve parameters, check inputs and the budget, print, run nothing.
    archive : bool
        Archive each finished run into ``results/paper/<chapter>/``.
    root : Path
        Repository root (the chapters' runs are made from there).
    log : callable
        Where the one-line progress messages go.
    order : sequence of (chapter, planning seconds on a GPU, planning seconds on a CPU)
        The queue (default :data:`ORDER`).
    """
    if not budget_s > 0:
        raise QueueError(f"budget must be > 0 seconds, got {budget_s!r}")
    items = plan(chapters, root, order)
    start, booked = time.monotonic(), 0.0  # booked: expected time of the chapters a dry run has planned
    for item in items:
        if item.status == "skipped":
            log(f"skip  {item.chapter}: {item.reason}")
            continue
        left = budget_s - (time.monotonic() - start) - booked
        if item.expected_s > left:
            item.status, item.reason = "skipped", f"expected {item.expected_s:.0f} s > {left:.0f} s left"
            log(f"skip  {item.chapter}: {item.reason}")
            continue
        if dry_run:
            log(f"plan  {item.chapter}: expected {item.expected_s:.0f} s, {left:.0f} s left")
            booked += item.expected_s
            continue
        log(f"run   {item.chapter} (expected {item.expected_s:.0f} s, {left:.0f} s left)")
        t0 = time.monotonic()
        cmd = [sys.executable, "-m", "lsa.cli", "run", item.chapter, "--profile", "paper", "-q"]
        try:
            proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=left)
        except subprocess.TimeoutExpired:
            item.status, item.reason = "failed", f"stopped at the budget after {left:.0f} s (no run replaced)"
            item.seconds = time.monotonic() - t0
            log(f"fail  {item.chapter}: {item.reason}")
            continue
        item.seconds = time.monotonic() - t0
        folder = next(
            (ln.split(":", 1)[1].strip() for ln in proc.stdout.splitlines() if ln.startswith("run folder:")), ""
        )
        if proc.returncode != 0 or not folder:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            item.status, item.reason = "failed", f"exit {proc.returncode}: {tail[0]}"
            log(f"fail  {item.chapter}: {item.reason}")
            continue
        item.status, item.run_dir = "ran", folder
        if archive:
            item.archived_to = str(archive_run(Path(folder), root))
            item.status = "archived"
        log(f"done  {item.chapter}: {item.seconds:.0f} s -> {item.archived_to or folder}")
    done = sum(i.status in ("ran", "archived") for i in items)
    log(
        f"paper queue: {done} run, {sum(i.status == 'skipped' for i in items)} skipped, "
        f"{sum(i.status == 'failed' for i in items)} failed in {time.monotonic() - start:.0f} s "
        f"of a {budget_s:.0f} s budget" + (" (dry run)" if dry_run else "")
    )
    return items


def write_report(items: list[QueueItem], path: Path) -> None:
    """The queue's outcome as JSON (one record per chapter)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps([asdict(i) for i in items], indent=2, default=str))


DEVICE_ROOTS = ("papermill", "jupytext", "ipykernel", "nbformat", "nilearn", "nibabel", "threadpoolctl")
"""Packages the queue needs on the GPU machine beyond a PyTorch image (the runner's and Part IV's)."""

DEVICE_HAS = frozenset(
    {
        "numpy",
        "scipy",
        "pandas",
        "scikit-learn",
        "torch",
        "matplotlib",
        "seaborn",
        "transformers",
        "pyyaml",
        "tqdm",
        "requests",
        "packaging",
        "joblib",
        "pillow",
        "safetensors",
        "typing-extensions",
        "setuptools",
        "filelock",
        "jinja2",
        "markupsafe",
        "sympy",
        "networkx",
        "fsspec",
        "huggingface-hub",
        "tokenizers",
        "regex",
        "python-dateutil",
        "pytz",
        "tzdata",
        "six",
        "certifi",
        "urllib3",
        "idna",
        "charset-normalizer",
        "kiwisolver",
        "cycler",
        "fonttools",
        "pyparsing",
        "contourpy",
        "mpmath",
        "nvidia-*",
        "triton",
    }
)
"""What a PyTorch GPU image is taken to have already (the scientific stack): not carried."""


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def device_requirements(roots=DEVICE_ROOTS, has=DEVICE_HAS) -> list[str]:
    """``name==version`` of every installed distribution that ``roots`` need, transitively, minus ``has``.

    Read from the installed packages' metadata (so the versions are the ones tested here); ``make wheels``
    downloads exactly these, without their dependencies, for the GPU machine.
    """
    from importlib import metadata

    from packaging.requirements import Requirement

    def skipped(name: str) -> bool:
        return any(name == h or (h.endswith("*") and name.startswith(h[:-1])) for h in has)

    todo, found = [_normal(r) for r in roots], {}
    while todo:
        name = todo.pop()
        if name in found or skipped(name):
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as err:
            raise QueueError(f"{name} is needed on the GPU machine but is not installed here to pin it") from err
        found[name] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            if req.marker is not None and "extra" in str(req.marker):
                continue
            todo.append(_normal(req.name))
    return [f"{n}=={v}" for n, v in sorted(found.items())]
