"""Every third-party package the code imports is pinned exactly where it is installed from, and the lock agrees.

A package that is only a dependency of a dependency (py_vapid under pywebpush, amqp under celery) can move to
another version, or disappear, when its parent is upgraded; code that imports it directly must pin it itself.
Runtime code must pin in requirements.txt; tests and benchmarks may use requirements-dev.txt too, and the
benchmarks bench/requirements.txt (installed by `python -m bench` when missing).
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "requirements.txt"
DEV = ROOT / "requirements-dev.txt"
BENCH = ROOT / "bench" / "requirements.txt"
LOCK = ROOT / "requirements.lock"
SKIPPED_DIRS = {".venv", "node_modules", "__pycache__"}
# Benchmark extras are installed on demand, so they may be missing here; their import name -> distribution.
ON_DEMAND = {"push_notifications": "django-push-notifications", "matplotlib": "matplotlib", "yappi": "yappi"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def pins(path: Path) -> dict[str, str]:
    """`name==version` lines of a requirements file, by canonical name (extras and hashes aside)."""
    found = {}
    for line in path.read_text().splitlines():
        if match := PIN.match(line.strip()):
            found[canonical(match[1])] = match[2]
    return found


def project_files() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*.py")
        if not any(part.startswith(".") or part in SKIPPED_DIRS for part in path.relative_to(ROOT).parts)
    ]


def first_party() -> set[str]:
    names = {path.stem for path in ROOT.glob("*.py")}
    names |= {path.name for path in ROOT.iterdir() if path.is_dir() and any(path.glob("*.py"))}
    return names


def imports(path: Path) -> set[str]:
    """Absolute imports of a file, as dotted names (relative ones are the project's own)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@cache
def _packages() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()  # reads every installed distribution: once


@cache
def _distribution_files(name: str) -> frozenset[str]:
    return frozenset(str(file) for file in importlib.metadata.distribution(name).files or ())


def distribution_of(module: str) -> str | None:
    """The installed distribution that provides `module` (for namespace packages such as google.*, the one
    holding the submodule), or None when none does."""
    top, _, rest = module.partition(".")
    candidates = _packages().get(top, [])
    if len(set(candidates)) > 1 and rest:
        prefix = f"{top}/{rest.split('.')[0]}"
        candidates = [
            name
            for name in candidates
            if any(f == f"{prefix}.py" or f.startswith(f"{prefix}/") for f in _distribution_files(name))
        ]
    if not candidates:
        return ON_DEMAND.get(top)
    return canonical(candidates[0])


def direct_imports() -> dict[str, dict[str, set[str]]]:
    """distribution -> {"runtime" | "dev" | "bench": files importing it}."""
    ours, stdlib = first_party(), sys.stdlib_module_names
    used: dict[str, dict[str, set[str]]] = {}
    for path in project_files():
        relative = path.relative_to(ROOT)
        role = {"tests": "dev", "bench": "bench"}.get(relative.parts[0], "runtime")
        for module in imports(path):
            top = module.split(".")[0]
            beside = path.parent / top  # a script's sibling module (scripts/preflight.py)
            if top in stdlib or top in ours or top == "__future__" or beside.with_suffix(".py").exists():
                continue
            distribution = distribution_of(module) or f"? {module} (no installed distribution provides it)"
            used.setdefault(distribution, {}).setdefault(role, set()).add(str(relative))
    return used


def test_every_directly_imported_package_is_pinned_exactly_where_its_importers_install_from() -> None:
    runtime, dev, bench = pins(RUNTIME), pins(DEV), pins(BENCH)
    allowed = {"runtime": runtime, "dev": runtime | dev, "bench": runtime | dev | bench}
    where = {
        "runtime": "requirements.txt",
        "dev": "requirements-dev.txt",
        "bench": "requirements-dev.txt or bench/requirements.txt",
    }
    missing = []
    for distribution, roles in sorted(direct_imports().items()):
        role = next(role for role in ("runtime", "dev", "bench") if role in roles)  # the strictest importer
        if distribution not in allowed[role]:
            files = ", ".join(sorted(roles[role])[:3])
            missing.append(f"{distribution} (imported by {files}): pin it exactly (==) in {where[role]}")
    assert not missing, "\n".join(missing)


def test_the_scan_sees_what_it_checks() -> None:
    # If the walk or the mapping broke, the test above would pass on nothing: pin a few known answers.
    used = direct_imports()
    assert set(used["py-vapid"]) == {"runtime"}  # providers/webpush.py, not only through pywebpush
    assert "runtime" in used["google-auth"]  # google.auth.exceptions: a namespace package resolved by its files
    assert set(used["pytest"]) == {"dev"}
    assert "yappi" in used  # installed or not


def test_the_lock_holds_every_pin_at_the_same_version() -> None:
    """requirements.lock (what scripts/setup.sh installs) is regenerated whenever a pin changes."""
    locked = pins(LOCK)
    stale = [
        f"{name}=={version} in {path.name}, {locked.get(name, 'absent')} in requirements.lock"
        for path in (RUNTIME, DEV)
        for name, version in pins(path).items()
        if locked.get(name) != version
    ]
    assert not stale, "regenerate the lock (README, Tests): " + "; ".join(stale)
    assert "--hash=sha256:" in LOCK.read_text()
