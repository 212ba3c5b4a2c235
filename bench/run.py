"""Run every benchmark in bench/ and print one table of figures and same-run ratios.

    ./run bench                          every benchmark (about a minute per HTTP benchmark)
    ./run bench --quick                  smoke run: short, one figure per side
    ./run bench --only ocsp --json r.json

A benchmark is a module ``bench/bench_<name>.py`` with ``run(args) -> list[Result]`` (see
harness.py). Each row compares a figure with a baseline measured in the same run, because the
machine (2 cores, shared with the load generator) is too noisy for absolute numbers to mean
much from one run to the next; the ratio is the figure to watch.

Exit status: 0 when every benchmark ran, 1 if one failed, 3 with ``--check`` if a row missed
its goal, 130 on Ctrl-C. Every server and temporary folder is removed in every case.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import BENCH_DIR, BenchError, Result, say

QUICK = {"duration": 2.0, "rounds": 2, "warmup": 1}
FULL = {"duration": 10.0, "rounds": 10, "warmup": 2}


def discover() -> dict[str, Path]:
    """``{name: path}`` of every ``bench_<name>.py`` in bench/."""
    return {p.stem.removeprefix("bench_"): p for p in sorted(BENCH_DIR.glob("bench_*.py"))}


def parse_args(argv: list[str] | None, names: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="./run bench", description="Run Keiin's benchmarks (figures and same-run ratios)."
    )
    parser.add_argument(
        "--duration",
        type=float,
        help=f"seconds of measured load per figure, split over the rounds "
        f"(default {FULL['duration']:g}; --quick {QUICK['duration']:g})",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help=f"alternating baseline/subject runs per figure; figures are medians "
        f"(default {FULL['rounds']}; --quick {QUICK['rounds']})",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        help=f"seconds of unmeasured load per server first (default {FULL['warmup']})",
    )
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only this benchmark (repeatable; one of: {', '.join(names)})",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--check", action="store_true", help="exit with status 3 if a row misses its goal"
    )
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.duration <= 0 or args.rounds < 1 or args.warmup < 0:
        parser.error("--duration and --rounds must be positive, --warmup not negative")
    if args.workers < 1 or args.connections < 1 or args.threads < 1:
        parser.error("--workers, --connections and --threads must be positive")
    if args.connections < args.threads:
        parser.error("wrk needs at least one connection per thread")
    for name in args.only or []:
        if name not in names:
            parser.error(f"no benchmark {name!r} (have: {', '.join(names)})")
    return args


def machine() -> dict[str, object]:
    def version(cmd: list[str]) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return "not found"
        lines = (out.stdout or out.stderr).strip().splitlines()
        return lines[0] if lines else ""

    try:
        from granian import __version__ as granian_version
    except ImportError:
        granian_version = "not installed"
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "granian": granian_version,
        "wrk": version(["wrk", "--version"]).split(" [")[0],
        "platform": platform.platform(),
    }


def fmt_number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def print_table(results: list[Result]) -> None:
    header = ("benchmark", "figure", "unit", "baseline", "ratio", "goal", "verdict", "p50", "p99")
    rows = [header]
    for r in results:
        p50, p99 = r.details.get("p50_ms"), r.details.get("p99_ms")
        rows.append(
            (
                r.name,
                fmt_number(r.figure),
                r.unit,
                fmt_number(r.baseline),
                f"{r.ratio:.2f}" if r.ratio is not None else "-",
                f">= {r.goal:.2f}" if r.goal is not None else "-",
                r.verdict,
                f"{p50:.2f} ms" if p50 is not None else "-",
                f"{p99:.2f} ms" if p99 is not None else "-",
            )
        )
    right = {1, 3, 4, 7, 8}  # numbers
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for n, row in enumerate(rows):
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    for r in results:
        if r.error:
            print(f"{r.name}: ERROR: {r.error}")
            continue
        d = r.details
        if "round_ratios" in d:
            ratios = ", ".join(f"{x:.2f}" for x in d["round_ratios"])
            print(f"  {r.name}: per-round ratios {ratios} (ratio = their median)")
        cpu, base_cpu = d.get("cpu_us_per_response"), d.get("baseline_cpu_us_per_response")
        if cpu and base_cpu:
            print(
                f"  {r.name}: server CPU {cpu:.1f} us/response, baseline {base_cpu:.1f} "
                f"(baseline/subject {base_cpu / cpu:.2f})"
            )


def run_module(name: str, module: ModuleType, args: argparse.Namespace) -> list[Result]:
    started = time.monotonic()
    try:
        results = list(module.run(args))
    except BenchError as exc:
        say(f"{name}: FAILED: {exc}")
        return [Result(name=name, figure=None, unit="", error=str(exc))]
    except Exception as exc:
        traceback.print_exc()
        return [Result(name=name, figure=None, unit="", error=f"{type(exc).__name__}: {exc}")]
    say(f"{name}: done in {time.monotonic() - started:.0f}s")
    return results


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    found = discover()
    args = parse_args(argv, list(found))
    if args.list:
        for name, path in found.items():
            print(f"{name:<12} {path.relative_to(BENCH_DIR.parent)}")
        return 0
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    selected = [n for n in found if not args.only or n in args.only]
    info = machine()
    started = dt.datetime.now(dt.UTC)
    print(
        f"Keiin benchmarks  {started:%Y-%m-%d %H:%M:%SZ}  {info['cpus']} CPUs, "
        f"load {info['load_average']}, Python {info['python']}, granian {info['granian']}, "
        f"{info['wrk']}"
    )
    print(
        f"load: wrk -t{args.threads} -c{args.connections}, {args.rounds} alternating rounds of "
        f"{max(1, round(args.duration / args.rounds))}s per figure (figures: medians; "
        f"ratio: median of the per-round ratios), "
        f"{args.warmup}s warm-up; servers: {args.workers} workers",
        flush=True,
    )
    results: list[Result] = []
    try:
        for name in selected:
            say(f"=== {name}")
            module = importlib.import_module(found[name].stem)
            results.extend(run_module(name, module, args))
    except KeyboardInterrupt:
        say("interrupted; servers stopped and temporary files removed")
        return 130
    print()
    print_table(results)
    if args.json:
        payload = {
            "started": started.isoformat(),
            "machine": info,
            "settings": {
                k: getattr(args, k)
                for k in ("duration", "rounds", "warmup", "workers", "connections", "threads")
            },
            "results": [r.to_json() for r in results],
        }
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nresults written to {args.json}")
    if any(r.error for r in results):
        return 1
    if args.check and any(r.verdict == "BELOW GOAL" for r in results):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
