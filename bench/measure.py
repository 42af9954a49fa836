"""Measuring processes from the outside: CPU time and peak memory from /proc, percentiles."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def processes(*, pgid: int | None = None, name: str | None = None, cmdline: str | None = None) -> list[int]:
    """Pids of a process group, of processes with a command name, or whose command line contains a text."""

    def matches(entry: Path, fields: list[str]) -> bool:
        if pgid is not None:
            return int(fields[2]) == pgid
        if name is not None:
            return (entry / "comm").read_text().strip() == name
        return cmdline is not None and cmdline in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()

    found = []
    for entry in Path("/proc").iterdir():
        fields = _stat(entry.name) if entry.name.isdigit() else None
        try:
            if fields is not None and matches(entry, fields):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def with_descendants(pids: list[int]) -> list[int]:
    """The processes and every process they started (uvicorn's --workers, Celery's pool children)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        fields = _stat(entry.name) if entry.name.isdigit() else None
        if fields is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(parents.get(pid, []))
    return sorted(found)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes have used so far."""
    total = 0
    for pid in pids:
        fields = _stat(str(pid))
        if fields is not None:
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


def postgres_cpu_seconds() -> float:
    """CPU of PostgreSQL's processes so far, including backends that have exited since (the postmaster's
    reaped children): a sum over the live processes alone drops when a connection closes."""
    total = 0
    for pid in processes(name="postgres"):
        fields = _stat(str(pid))
        if fields is None:
            continue
        total += int(fields[11]) + int(fields[12])
        if _command(fields[1]) != "postgres":  # the postmaster: add its children that have exited
            total += int(fields[13]) + int(fields[14])
    return total / TICKS


def _command(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def peak_rss_mb(pids: list[int]) -> dict[int, float]:
    """VmHWM (peak resident set) of each process, in MB."""
    peaks = {}
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[pid] = int(line.split()[1]) / 1024
        except OSError:
            continue
    return peaks


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]
