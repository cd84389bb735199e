"""The ``lsa`` command: list chapters, run one, check claims, build the book.

Exit status: 0 success; 1 a chapter failed, an identity or guarantee failed or a claim could not be evaluated
(a finding that is not borne out only with ``lsa claims --strict``), or the site build failed; 2 bad input (unknown
chapter, unknown or ill-typed parameter, malformed ``-p``, malformed claims file, missing or corrupt data file,
a run folder that cannot be archived or verified). ``lsa verify`` exits 1 when a metric moved.
"""

from __future__ import annotations

import argparse
import json
import sys

from lsa.data.checksums import ChecksumError
from lsa.paths import RepositoryNotFound, repo_root
from lsa.runner.archive import ArchiveError
from lsa.runner.chapters import ChapterNotFound, chapter_names, load_chapter, toc_chapters
from lsa.runner.claims import ClaimError, evaluate_chapter, is_defect
from lsa.runner.execute import ChapterFailed, latest_run, run_chapter
from lsa.runner.paper_queue import QueueError
from lsa.runner.params import PROFILE_NAMES, ParameterError
from lsa.runner.verify import VerifyError


def _parse_pairs(
    items: list[str],
    flag: str = "-p",
    usage: str = "lsa run CHAPTER -p steps=3000",
    error: type[Exception] = ParameterError,
) -> dict[str, str]:
    """``name=value`` options (``-p``, ``--provenance``) as a dict; a malformed item raises ``error``."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise error(f"{flag} expects name=value, got {item!r} (usage: {usage})")
        name, value = item.split("=", 1)
        out[name.strip()] = value
    return out


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _claims_table(results) -> str:
    rows = [("chapter", "id", "kind", "status", "measured")]
    rows += [
        (
            r.chapter,
            r.id,
            r.kind,
            r.status + (f" ({_short(r.detail)})" if r.status != "pass" and r.detail else ""),
            r.measured[:70],
        )
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4] for row in rows)


def cmd_list(args) -> int:
    for name in chapter_names():
        ch = load_chapter(name)
        print(f"{name} — {ch.title}")
        for p in ch.params:
            print(f"    {p.name}: {p.type} = {p.default!r}    # {p.comment}")
    return 0


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """``-j``, ``--scheduler``, ``--cluster`` and the SLURM options (shared by run, book and sweep)."""
    g = parser.add_argument_group("execution engine (Dask)")
    g.add_argument(
        "-j", "--jobs", type=int, metavar="N", help="chapters executed concurrently (default: the number of cores)"
    )
    g.add_argument("--scheduler", metavar="ADDRESS", help="send the runs to an existing Dask scheduler")
    g.add_argument("--cluster", choices=("local", "slurm"), help="start a cluster: local (default) or SLURM")
    g.add_argument("--cluster-config", metavar="FILE", help="YAML file of SLURM options (see lsa.runner.slurm_config)")
    g.add_argument("--queue", help="SLURM partition")
    g.add_argument("--walltime", help="SLURM walltime per job, HH:MM:SS")
    g.add_argument("--memory", help="memory per SLURM job, e.g. 8GB")
    g.add_argument("--gpus", type=int, help="GPUs per SLURM job")


def engine_options(args) -> dict:
    """Keyword arguments of :func:`lsa.runner.engine.run_jobs` from the parsed engine arguments."""
    from lsa.runner.slurm_config import SlurmConfig

    slurm = None
    if args.cluster == "slurm":
        slurm = SlurmConfig.from_file(
            args.cluster_config, queue=args.queue, walltime=args.walltime, memory=args.memory, gpus=args.gpus
        )
    return {"n_jobs": args.jobs, "scheduler": args.scheduler, "cluster": args.cluster, "slurm": slurm}


def _report_failures(failed) -> int:
    for o in failed:
        print(f"lsa: chapter failed: {o.error} (log: {o.log})", file=sys.stderr)
    if failed:
        print(f"lsa: failed: {', '.join(o.job.label for o in failed)}", file=sys.stderr)
    return 1 if failed else 0


def cmd_run(args) -> int:
    from lsa.runner.claims import ClaimResult
    from lsa.runner.engine import Job, run_jobs

    overrides = _parse_pairs(args.param)
    if len(args.chapter) == 1 and not (args.jobs or args.scheduler or args.cluster):
        result = run_chapter(
            args.chapter[0], profile=args.profile, overrides=overrides, force=args.force, progress=not args.quiet
        )
        print(f"run folder: {result.path}")
        if result.claims:
            print(_claims_table(result.claims))
        return 0
    jobs = [Job.make(name, args.profile, overrides, force=args.force) for name in args.chapter]
    outcomes = run_jobs(jobs, **engine_options(args), progress=not args.quiet, raise_on_failure=False)
    for o in outcomes:
        if o.ok:
            print(f"run folder: {o.path}")
            if o.claims:
                print(_claims_table([ClaimResult(**c) for c in o.claims]))
    return _report_failures([o for o in outcomes if not o.ok])


def cmd_sweep(args) -> int:
    from lsa.runner.sweep import run_sweep

    result = run_sweep(
        args.chapter,
        _parse_pairs(args.param, usage="lsa sweep CHAPTER -p lambdas=[0.01,0.02] --seeds 3"),
        seeds=args.seeds,
        profile=args.profile,
        metrics=args.metric,
        force=args.force,
        engine=engine_options(args),
    )
    cols = [c for c in result.table.columns if not c.startswith(("metric:", "claim:")) and c != "error"]
    cols += [f"metric:{m}" for m in args.metric or [] if f"metric:{m}" in result.table]
    print(result.table[cols].to_string(index=False))
    print(f"table: {result.folder / 'table.csv'} and table.parquet")
    for fig in result.figures:
        print(f"figure: {fig}")
    return _report_failures(result.failed)


def cmd_status(args) -> int:
    from lsa.runner.status import UP_TO_DATE, ChapterStatus, chapter_status, render_status

    rows = []
    for name in args.chapter or chapter_names():
        try:
            rows += chapter_status(name, tuple(args.profile or PROFILE_NAMES))
        except (ParameterError, ClaimError) as exc:  # one malformed chapter must not hide the others
            if args.chapter:
                raise
            rows.append(ChapterStatus(name, "-", "invalid", "", reasons=[str(exc)]))
    print(render_status(rows))
    return 1 if args.check and any(r.state != UP_TO_DATE for r in rows) else 0


def cmd_durations(args) -> int:
    from lsa.runner import durations

    history, hints = durations.recorded(), durations.load_hints()
    rows = sorted(set(history) | set(hints))
    print(f"{'chapter':<24}{'profile':<10}{'last run (s)':>14}{'hint (s)':>10}")
    for chapter, profile in rows:
        last, hint = history.get((chapter, profile)), hints.get((chapter, profile))
        print(f"{chapter:<24}{profile:<10}{_num(last):>14}{_num(hint):>10}")
    if args.write:
        if not history:
            print("lsa: nothing recorded under runs/; the hints file is unchanged", file=sys.stderr)
            return 1
        print(f"wrote {durations.write_hints(history)}")
    return 0


def _num(x) -> str:
    return "-" if x is None else f"{x:.0f}"


def cmd_claims(args) -> int:
    """Exit 1 when an identity or guarantee fails, a claim errors or a run is missing; a finding that is not
    borne out is reported and exits 1 only with ``--strict``."""
    results, missing = [], []
    if args.archived:
        from lsa.runner.archive import archived_runs

        for a in archived_runs():
            if not args.chapter or a.run["chapter"] in args.chapter:
                results += a.claims
    else:
        for name in args.chapter or toc_chapters():
            run = latest_run(name, args.profile)
            if run is None:
                missing.append(name)
                continue
            metrics = json.loads((run / "metrics.json").read_text())
            ch = load_chapter(name)
            results += evaluate_chapter(ch, metrics, args.profile, run.name)
    if results:
        print(_claims_table(results))
    if missing:
        print(f"no {args.profile!r} run yet for: {', '.join(missing)} (run `lsa run NAME --profile {args.profile}`)")
    defects = [r for r in results if is_defect(r)]
    not_borne_out = [r for r in results if r.kind == "finding" and r.status == "fail"]
    for r in defects:
        print(f"DEFECT {r.chapter}:{r.id} ({r.kind}, {r.profile}) {r.status}: {r.detail or r.expected}")
    for r in not_borne_out:
        print(f"finding not borne out: {r.chapter}:{r.id} ({r.profile}): expected {r.expected}; measured {r.measured}")
    return 1 if defects or missing or (args.strict and not_borne_out) else 0


def cmd_book(args) -> int:
    from lsa.runner.book import build_book

    build_book(
        profile=args.profile,
        force=args.force,
        progress=not args.quiet,
        reuse_latest=args.reuse_latest,
        engine=engine_options(args),
    )
    return 0


def cmd_archive(args) -> int:
    from lsa.runner.archive import archive_run

    extra = _parse_pairs(
        args.provenance, "--provenance", "lsa archive RUN_DIR --provenance device='NVIDIA H100'", ArchiveError
    )
    dest = archive_run(args.run_dir, extra=extra or None)
    print(f"archived {args.run_dir} -> {dest}")
    return 0


def cmd_paper(args) -> int:
    from lsa.runner.paper_queue import device_requirements, run_queue, write_report

    if args.requirements:
        print("\n".join(device_requirements()))
        return 0
    items = run_queue(args.budget, args.chapter or None, dry_run=args.dry_run, archive=not args.no_archive)
    if args.report:
        write_report(items, args.report)
    return 1 if any(i.status == "failed" for i in items) else 0


def cmd_verify(args) -> int:
    from lsa.runner.verify import WALL_CLOCK, render, verify_run

    ignore = () if args.compare_wall_clock else WALL_CLOCK
    result = verify_run(
        args.run,
        rtol=args.rtol,
        atol=args.atol,
        ignore=tuple(ignore) + tuple(args.ignore or ()),
        reuse_cache=args.reuse_cache,
        progress=not args.quiet,
    )
    print(render(result, show_all=args.all))
    return 0 if result.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lsa", description="Run and check the chapters of the companion book.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every chapter with its title and parameters").set_defaults(func=cmd_list)
    run = sub.add_parser("run", help="validate parameters, execute a chapter (or reuse its run), check its claims")
    run.add_argument("chapter", nargs="+", help="one or more chapters (several run concurrently, see -j)")
    run.add_argument("-p", "--param", action="append", metavar="NAME=VALUE", help="override a parameter (repeatable)")
    run.add_argument("--profile", default="default", choices=PROFILE_NAMES)
    run.add_argument("--force", action="store_true", help="execute even if a run with the same key exists")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_engine_arguments(run)
    run.set_defaults(func=cmd_run)
    sweep = sub.add_parser(
        "sweep", help="run a chapter over a parameter grid and seeds; one tidy table (CSV, Parquet) and figures"
    )
    sweep.add_argument("chapter")
    sweep.add_argument(
        "-p",
        "--param",
        action="append",
        metavar="NAME=[V1,V2,...]",
        help="values of a parameter (a list sweeps, one value fixes it; repeatable: the grid is the product)",
    )
    sweep.add_argument("--seeds", type=int, metavar="N", help="add seed = 0..N-1 as the innermost axis")
    sweep.add_argument("--profile", default="default", choices=PROFILE_NAMES)
    sweep.add_argument(
        "--metric", action="append", metavar="NAME", help="plot this scalar metric against the first swept parameter"
    )
    sweep.add_argument("--force", action="store_true", help="execute even the grid points whose run exists")
    add_engine_arguments(sweep)
    sweep.set_defaults(func=cmd_sweep)
    status = sub.add_parser(
        "status", help="per chapter and profile: up to date, stale (and why) or never run; executes nothing"
    )
    status.add_argument("chapter", nargs="*", help="chapters (default: all)")
    status.add_argument(
        "--profile", action="append", choices=PROFILE_NAMES, help="profile to show (repeatable; default: all three)"
    )
    status.add_argument("--check", action="store_true", help="exit status 1 unless everything shown is up to date")
    status.set_defaults(func=cmd_status)
    dur = sub.add_parser(
        "durations",
        help="wall time of each chapter's last run and the committed hints the engine orders runs by (longest first)",
    )
    dur.add_argument(
        "--write", action="store_true", help="record the last runs' times in notebooks/durations.json (merged)"
    )
    dur.set_defaults(func=cmd_durations)
    claims = sub.add_parser("claims", help="evaluate every declared claim against the latest runs")
    claims.add_argument("chapter", nargs="*", help="chapters (default: all in _toc.yml)")
    claims.add_argument("--profile", default="default", choices=PROFILE_NAMES)
    claims.add_argument("--strict", action="store_true", help="also exit 1 when a finding is not borne out")
    claims.add_argument(
        "--archived", action="store_true", help="re-evaluate the archived runs under results/ (every profile)"
    )
    claims.set_defaults(func=cmd_claims)
    verify = sub.add_parser(
        "verify",
        help="re-execute a run with its recorded parameters in a scratch folder and compare every metric "
        "(exit 1 if one moved); the run itself is only read",
    )
    verify.add_argument("run", help="runs/<chapter>/<key> or results/<profile>/<chapter>")
    verify.add_argument(
        "--rtol", type=float, default=1e-9, help="relative tolerance for floats (default 1e-9; ints, strings exact)"
    )
    verify.add_argument(
        "--atol",
        type=float,
        default=0.0,
        help="absolute tolerance for floats (default 0); for metrics that are themselves round-off, e.g. 1e-12",
    )
    verify.add_argument("--ignore", action="append", metavar="GLOB", help="metric names not compared (repeatable)")
    verify.add_argument(
        "--compare-wall-clock", action="store_true", help="also compare wall-clock metrics (*_s, *_seconds, time_*)"
    )
    verify.add_argument(
        "--reuse-cache", action="store_true", help="reuse cached models and features instead of recomputing them"
    )
    verify.add_argument("--all", action="store_true", help="print every compared value, not only what moved")
    verify.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    verify.set_defaults(func=cmd_verify)
    book = sub.add_parser("book", help="run every chapter in _toc.yml and render the site to _build/html")
    book.add_argument("--profile", default="default", choices=PROFILE_NAMES)
    book.add_argument("--force", action="store_true")
    book.add_argument(
        "--reuse-latest",
        "--no-run",
        dest="reuse_latest",
        action="store_true",
        help="execute nothing: render each chapter's latest existing run (placeholder page if none)",
    )
    book.add_argument("-q", "--quiet", action="store_true")
    add_engine_arguments(book)
    book.set_defaults(func=cmd_book)
    archive = sub.add_parser(
        "archive",
        help="keep a finished run folder (e.g. a GPU run at paper profile) in "
        "results/<profile>/<chapter>/ for the archived-runs page",
    )
    archive.add_argument("run_dir", help="runs/<chapter>/<key>/ as written by `lsa run`")
    archive.add_argument(
        "--provenance",
        action="append",
        metavar="NAME=VALUE",
        help="provenance the run folder lacks, e.g. device=... (repeatable; marked as added)",
    )
    archive.set_defaults(func=cmd_archive)
    paper = sub.add_parser(
        "paper",
        help="run the paper profiles that need no external data, in order, inside a time budget, archiving each",
    )
    paper.add_argument("chapter", nargs="*", help="a subset of the queue (default: the whole queue, in order)")
    paper.add_argument("--budget", type=float, default=540.0, help="seconds for the whole queue (default 540)")
    paper.add_argument("--dry-run", action="store_true", help="plan only: check parameters, inputs and budget")
    paper.add_argument("--no-archive", action="store_true", help="leave finished runs in runs/ only")
    paper.add_argument("--report", metavar="PATH", help="also write what the queue did as JSON")
    paper.add_argument(
        "--requirements", action="store_true", help="print the pinned packages the GPU machine needs, and exit"
    )
    paper.set_defaults(func=cmd_paper)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        repo_root()  # every command needs the checkout (chapters, data, runs); the error says how to install
        return args.func(args)
    except (
        RepositoryNotFound,
        ChapterNotFound,
        ParameterError,
        ClaimError,
        ChecksumError,
        ArchiveError,
        VerifyError,
        QueueError,
    ) as exc:
        print(f"lsa: error: {exc}", file=sys.stderr)
        return 2
    except ChapterFailed as exc:
        print(f"lsa: chapter failed: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from lsa.runner.durations import DurationsError
        from lsa.runner.engine import EngineError, JobsFailed
        from lsa.runner.slurm_config import SlurmConfigError

        if isinstance(exc, (EngineError, SlurmConfigError, DurationsError)):
            print(f"lsa: error: {exc}", file=sys.stderr)
            return 2
        if isinstance(exc, JobsFailed):
            _report_failures([o for o in exc.outcomes if not o.ok])
            return 1
        raise
    except KeyboardInterrupt:
        print("lsa: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
