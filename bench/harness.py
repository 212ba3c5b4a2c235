"""Shared machinery for the benchmarks in bench/: results, server processes, wrk, comparisons.

A benchmark module (``bench/bench_<name>.py``) exposes ``run(args) -> list[Result]``; ``run.py``
finds the modules, runs them and prints one table. HTTP benchmarks measure a subject and a
baseline *in the same run*, alternating (baseline, subject, subject, baseline, ...): figures are
the medians of the runs, the ratio is the median of the per-round ratios (each round pairs two
adjacent runs). The machine is small and shared, so only the ratio is meaningful across runs.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
WRK_SCRIPT = BENCH_DIR / "wrk_report.lua"


class BenchError(RuntimeError):
    """A benchmark could not produce a trustworthy figure; the text says why."""


def say(message: str) -> None:
    """Progress line on stderr (the table goes to stdout)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- results


@dataclass
class Result:
    """One row of the table: a figure, its same-run baseline, and the goal for their ratio."""

    name: str
    figure: float | None
    unit: str
    baseline: float | None = None
    goal: float | None = None  # minimum acceptable ratio
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    #: Median of the per-round subject/baseline ratios, when the runs were paired. Adjacent
    #: runs share the machine's mood, so this is steadier than ``figure / baseline``.
    paired_ratio: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.paired_ratio is not None:
            return self.paired_ratio
        if self.figure is None or not self.baseline:
            return None
        return self.figure / self.baseline

    @property
    def verdict(self) -> str:
        if self.error is not None:
            return "ERROR"
        if self.goal is None or self.ratio is None:
            return "-"
        return "OK" if self.ratio >= self.goal else "BELOW GOAL"

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ratio"] = self.ratio
        out["verdict"] = self.verdict
        return out


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class LoadSettings:
    """How hard and how long to load a server (shared by every HTTP benchmark)."""

    duration: float  # seconds of load per figure, split over the rounds
    rounds: int
    warmup: int  # seconds of unmeasured load per server before the rounds
    connections: int
    threads: int
    workers: int

    @property
    def run_seconds(self) -> int:
        """Length of one wrk run (wrk takes whole seconds)."""
        return max(1, round(self.duration / self.rounds))

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> LoadSettings:
        return cls(
            duration=args.duration,
            rounds=args.rounds,
            warmup=args.warmup,
            connections=args.connections,
            threads=args.threads,
            workers=args.workers,
        )


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    """A TCP port on the loopback interface that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Services(contextlib.AbstractContextManager):
    """Server processes started by one benchmark; all are stopped when the block exits.

    Each process gets its own session (so a Ctrl-C aimed at the benchmark does not reach it
    half-way) and is stopped by SIGTERM to *its top process only*: granian then stops its
    workers itself. (SIGTERM to the whole group reaches the workers first; once, that left a
    granian started with --respawn-failed-workers hanging.) Whatever is left after a grace
    period gets SIGKILL, group-wide.
    """

    def __init__(self) -> None:
        self._procs: list[tuple[str, subprocess.Popen]] = []

    def start(
        self, name: str, cmd: list[str], *, env: dict[str, str], log_path: Path, cwd: Path | None
    ) -> subprocess.Popen:
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._procs.append((name, proc))
        return proc

    def check_alive(self) -> None:
        for name, proc in self._procs:
            if proc.poll() is not None:
                raise BenchError(f"{name} exited (status {proc.returncode}) during the benchmark")

    def stop_all(self) -> None:
        # A second Ctrl-C must not cut the clean-up short: hold signals until it is done.
        blocked = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            self._stop_all()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def _stop_all(self) -> None:
        for _name, proc in self._procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _name, proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for _name, proc in self._procs:
            # Stragglers: a server (and its workers) that ignored SIGTERM.
            for pid, _fields in _tree_stats(proc.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self._procs.clear()

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def wait_http(url: str, proc: subprocess.Popen, log_path: Path, timeout: float = 60) -> bytes:
    """Poll ``url`` until it answers 200 (return the body); fail if ``proc`` dies first."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"server exited early ({proc.returncode}):\n{tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return response.read()
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, not HTTP yet
            last = exc
        time.sleep(0.2)
    raise BenchError(f"no answer from {url} within {timeout:.0f}s ({last}):\n{tail(log_path)}")


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` and its live descendants (Linux).

    Descendants, not the process group: ``keiin serve`` starts granian in a session of its own.
    CPU per response is a second view of a server's cost beside responses per second; it
    moves less with competing load, though contention still inflates it somewhat.
    """
    ticks = sum(int(f[11]) + int(f[12]) for _pid, f in _tree_stats(pid))  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _tree_stats(root: int) -> list[tuple[int, list[bytes]]]:
    """``/proc/<pid>/stat`` fields (from the state on) of ``root`` and its live descendants."""
    stats: dict[int, list[bytes]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_bytes()
        except OSError:
            continue  # gone meanwhile
        fields = stat.rsplit(b")", 1)[1].split()  # after "pid (comm)": fields[0] is the state
        if fields[0] != b"Z":  # zombies are already dead
            stats[int(entry.name)] = fields
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        if pid in stats:
            found.append((pid, stats[pid]))
            frontier.extend(p for p, f in stats.items() if int(f[1]) == pid)  # ppid
    return found


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------- wrk


@dataclass(frozen=True)
class Target:
    """What wrk loads: a URL and, for POST, a body. ``min_response_bytes`` guards the figure:
    a run whose responses average fewer bytes (headers included) was not answering properly
    (e.g. a short error reply with HTTP 200). ``server`` (started by :class:`Services`, so a
    process group leader) lets the run count the server's CPU time."""

    label: str
    url: str
    method: str = "GET"
    body_file: Path | None = None
    content_type: str | None = None
    min_response_bytes: int = 0
    server: subprocess.Popen | None = None
    #: Extra request headers, e.g. ``(("Authorization", "Basic ..."),)``.
    headers: tuple[tuple[str, str], ...] = ()
    #: Shortest wrk run for this target in :func:`compare_many` (a very slow server needs
    #: a few seconds for a run to hold more than its first wave of responses).
    min_seconds: int = 0


@dataclass(frozen=True)
class WrkRun:
    requests: int
    seconds: float
    bytes_per_response: float
    errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    cpu_us_per_response: float | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def wrk(target: Target, seconds: int, settings: LoadSettings) -> WrkRun:
    """Load ``target`` with wrk for ``seconds``; check the run was clean."""
    env = dict(os.environ)
    env["BENCH_WRK_METHOD"] = target.method
    env["BENCH_WRK_BODY_FILE"] = str(target.body_file or "")
    env["BENCH_WRK_CONTENT_TYPE"] = target.content_type or ""
    env["BENCH_WRK_HEADERS"] = "\n".join(f"{name}: {value}" for name, value in target.headers)
    cmd = [
        "wrk",
        f"-t{settings.threads}",
        f"-c{settings.connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(WRK_SCRIPT),
        target.url,
    ]
    root = target.server.pid if target.server is not None else None
    cpu_before = tree_cpu_seconds(root) if root is not None else 0.0
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 30)
    except FileNotFoundError:
        raise BenchError("wrk is not installed (Debian: apt-get install wrk)") from None
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish against {target.label}") from None
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH-RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout}")
    cpu = tree_cpu_seconds(root) - cpu_before if root is not None else None
    data = json.loads(line.removeprefix("BENCH-RESULT "))
    errors = {
        k: data[k]
        for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    }
    requests = data["requests"]
    run = WrkRun(
        requests=requests,
        seconds=data["duration_us"] / 1e6,
        bytes_per_response=data["bytes"] / requests if requests else 0.0,
        errors=errors,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        cpu_us_per_response=cpu / requests * 1e6 if cpu is not None and requests else None,
    )
    if requests == 0 or any(errors.values()):
        raise BenchError(f"{target.label}: {requests} requests, errors {errors}")
    if run.bytes_per_response < target.min_response_bytes:
        raise BenchError(
            f"{target.label}: responses average {run.bytes_per_response:.0f} bytes, "
            f"expected at least {target.min_response_bytes}"
        )
    return run


# --------------------------------------------------------------------------- comparing


@dataclass
class Comparison:
    """The runs of a subject and its baseline, measured alternately in one session."""

    subject: list[WrkRun]
    baseline: list[WrkRun]

    def result(self, name: str, unit: str, goal: float | None) -> Result:
        def median(runs: list[WrkRun], attr: str) -> float | None:
            values = [getattr(r, attr) for r in runs]
            return None if None in values else statistics.median(values)

        round_ratios = [s.rate / b.rate for s, b in zip(self.subject, self.baseline, strict=True)]
        return Result(
            name=name,
            figure=median(self.subject, "rate"),
            unit=unit,
            baseline=median(self.baseline, "rate"),
            goal=goal,
            paired_ratio=statistics.median(round_ratios),
            details={
                "p50_ms": median(self.subject, "p50_ms"),
                "p99_ms": median(self.subject, "p99_ms"),
                "baseline_p50_ms": median(self.baseline, "p50_ms"),
                "baseline_p99_ms": median(self.baseline, "p99_ms"),
                "cpu_us_per_response": median(self.subject, "cpu_us_per_response"),
                "baseline_cpu_us_per_response": median(self.baseline, "cpu_us_per_response"),
                "runs": [round(r.rate) for r in self.subject],
                "baseline_runs": [round(r.rate) for r in self.baseline],
                "round_ratios": [round(x, 3) for x in round_ratios],
                "bytes_per_response": round(self.subject[0].bytes_per_response),
                "baseline_bytes_per_response": round(self.baseline[0].bytes_per_response),
            },
        )


def compare(
    subject: Target, baseline: Target, settings: LoadSettings, services: Services
) -> Comparison:
    """Warm both servers up, then measure them alternately (ABBA order) for ``rounds``."""
    for target in (baseline, subject):
        if settings.warmup > 0:
            say(f"warm-up {target.label} ({settings.warmup}s)")
            wrk(target, settings.warmup, settings)
    runs: dict[str, list[WrkRun]] = {subject.label: [], baseline.label: []}
    seconds = settings.run_seconds
    for i in range(settings.rounds):
        order = (baseline, subject) if i % 2 == 0 else (subject, baseline)
        for target in order:
            run = wrk(target, seconds, settings)
            runs[target.label].append(run)
            _say_run(i, settings.rounds, target.label, run)
        services.check_alive()
    return Comparison(subject=runs[subject.label], baseline=runs[baseline.label])


def wait_idle(server: subprocess.Popen | None, timeout: float = 20.0) -> None:
    """Wait until ``server``'s process tree has (nearly) stopped using CPU.

    When wrk stops, a slow server still has its last wave of requests to answer (certomancer's
    TSA: ~64 requests of tens of milliseconds each); without this wait that work would run
    during the next target's measurement.
    """
    if server is None:
        return
    deadline = time.monotonic() + timeout
    before = tree_cpu_seconds(server.pid)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        after = tree_cpu_seconds(server.pid)
        if after - before < 0.2 * 0.05:  # under 5% of a core
            return
        before = after


def compare_many(
    subject: Target, baselines: list[Target], settings: LoadSettings, services: Services
) -> list[Comparison]:
    """Like :func:`compare` with several baselines: one :class:`Comparison` per baseline.

    Each round runs every baseline once and the subject once, the subject in the middle and
    the baselines' order reversed every other round (B1 S B2, B2 S B1, ...), so the subject
    run sits next to each baseline run of its round; the subject runs are shared by the
    comparisons. With one baseline this is :func:`compare`'s ABBA order. After each run the
    loaded server is given time to finish its backlog (:func:`wait_idle`).
    """
    for target in (*baselines, subject):
        if settings.warmup > 0:
            say(f"warm-up {target.label} ({settings.warmup}s)")
            wrk(target, settings.warmup, settings)
    runs: dict[str, list[WrkRun]] = {t.label: [] for t in (subject, *baselines)}
    half = (len(baselines) + 1) // 2
    for target in (*baselines, subject):
        wait_idle(target.server)
    for i in range(settings.rounds):
        ordered = baselines if i % 2 == 0 else baselines[::-1]
        order = [*ordered[:half], subject, *ordered[half:]]
        for target in order:
            run = wrk(target, max(settings.run_seconds, target.min_seconds), settings)
            wait_idle(target.server)
            runs[target.label].append(run)
            _say_run(i, settings.rounds, target.label, run)
        services.check_alive()
    return [Comparison(subject=runs[subject.label], baseline=runs[b.label]) for b in baselines]


KEIIN = [sys.executable, "-m", "keiin.cli"]


def start_keiin(
    services: Services, port: int, workers: int, env: dict[str, str], tmp: Path
) -> tuple[subprocess.Popen, Path]:
    """Start ``keiin serve`` on ``port`` in ``tmp`` and wait until it answers /healthz."""
    log_path = tmp / "keiin.log"
    proc = services.start(
        "keiin serve",
        [*KEIIN, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        log_path=log_path,
        cwd=tmp,
    )
    wait_http(f"http://127.0.0.1:{port}/healthz", proc, log_path)
    return proc, log_path


def _say_run(index: int, rounds: int, label: str, run: WrkRun) -> None:
    """One progress line per wrk run."""
    cpu = run.cpu_us_per_response
    say(
        f"round {index + 1}/{rounds} {label:<16} {run.rate:>9,.0f} /s"
        f"  p50 {run.p50_ms:6.2f} ms  p99 {run.p99_ms:6.2f} ms"
        + (f"  server CPU {cpu:5.1f} us/resp" if cpu is not None else "")
    )


def run_with_services(prefix: str, body: Callable[[Path, Services], list[Result]]) -> list[Result]:
    """Run ``body(tmp, services)`` in a fresh temp folder; always stop servers and clean up."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        with Services() as services:
            return body(tmp, services)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
