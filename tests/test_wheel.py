"""A normal (non-editable) install works and ships the bundled seed data.

The editable install the rest of the suite runs against reads ``data/`` straight from the checkout, so it cannot
catch a packaging mistake (a package missing from ``[tool.setuptools] packages``, a ``package-dir`` mapping or a
``package-data`` glob that stops matching). This test builds a real wheel offline, puts it into a fresh venv and asks
the command line a question that only the bundled seed data can answer.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT

SOURCES = ("pyproject.toml", "README.md", "LICENSE", "bot", "cogs", "data")
SEED_FILE = "bot/seeddata/crocus-city-hall-attack-2024.json"
QUESTION = "Who claimed responsibility for the Crocus City Hall attack?"
BUILD_LEFTOVERS = ("build", "dist", "*.egg-info")


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _require_offline_build_backend() -> None:
    """Skip unless ``pip wheel --no-build-isolation`` can build this project with the running interpreter."""
    try:
        importlib.metadata.version("pip")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"pip is not installed for {sys.executable}; cannot build a wheel offline")
    try:
        installed = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"setuptools is not installed for {sys.executable}; cannot build a wheel offline")
    requires = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]["requires"]
    for requirement in requires:
        found = re.fullmatch(r"\s*setuptools\s*>=\s*([\d.]+)\s*", requirement)
        if found and _version_tuple(installed) < _version_tuple(found.group(1)):
            pytest.skip(
                f"setuptools {installed} for {sys.executable} is older than the build requirement "
                f"{requirement!r}; an offline --no-build-isolation build would fail "
                f"(upgrade with: {sys.executable} -m pip install '{requirement}')"
            )


def _dependency_dirs() -> list[str]:
    """The running interpreter's site-packages directories (where discord.py, sqlite-utils, rapidfuzz... live)."""
    dirs = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    dirs += [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]
    return [d for d in dict.fromkeys(dirs) if Path(d).is_dir()]


def _leftovers() -> set[str]:
    return {p.name for pattern in BUILD_LEFTOVERS for p in REPO_ROOT.glob(pattern)}


def _install_wheel(wheel: Path, site_packages: Path) -> None:
    """Install a pure-Python wheel by unpacking it (a wheel is a zip whose purelib root is site-packages)."""
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            name = info.filename
            data_dir = re.match(r"[^/]+\.data/(purelib|platlib)/", name)
            if data_dir:
                name = name[data_dir.end() :]
            elif re.match(r"[^/]+\.data/", name):
                continue  # scripts/headers/data: not needed to run ``python -m bot``
            if not name or name.endswith("/"):
                continue
            target = site_packages / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))


def test_wheel_installs_and_ships_seed_data(tmp_path: Path) -> None:
    _require_offline_build_backend()
    before = _leftovers()

    # 1. Build the wheel offline from a copy of the sources, so build/ and *.egg-info land in tmp_path.
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        origin = REPO_ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(origin, src / name)
    wheelhouse = tmp_path / "wheelhouse"
    pip_env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    pip_env |= {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    build = subprocess.run(
        [*command, "-w", str(wheelhouse), str(src)],
        cwd=tmp_path,
        env=pip_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, f"pip wheel failed:\n{build.stdout}\n{build.stderr}"
    assert _leftovers() == before, "building the wheel left build artefacts in the repository"
    wheels = sorted(wheelhouse.glob("claim_ledger-*.whl"))
    assert len(wheels) == 1, f"expected one wheel, got {[w.name for w in wheelhouse.iterdir()]}"
    wheel = wheels[0]

    # 4. The wheel carries the bundled seed data (and the package marker that makes it importable).
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert SEED_FILE in names, f"{SEED_FILE} missing from {wheel.name}"
    assert "bot/seeddata/__init__.py" in names

    # 2. A fresh venv without pip; the wheel unpacked into its site-packages, dependencies reachable through a .pth.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    fresh_site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
    )
    assert fresh_site.is_dir() and fresh_site.is_relative_to(venv)
    _install_wheel(wheel, fresh_site)
    # Plain path lines only: the current venv's own .pth files (e.g. the editable-install finder) are not run.
    (fresh_site / "zz_claim_ledger_test_deps.pth").write_text("\n".join(_dependency_dirs()) + "\n", encoding="utf-8")

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.pop("CLAIMLEDGER_DB", None)
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")

    def fresh(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(python), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)

    where = fresh("-c", "import bot, bot.seeddata; print(bot.__file__); print(bot.seeddata.__file__)")
    assert where.returncode == 0, where.stderr
    bot_file, seeddata_file = (Path(line).resolve() for line in where.stdout.split())
    assert bot_file.is_relative_to(fresh_site.resolve()), f"bot imported from {bot_file}, not the wheel's copy"
    assert seeddata_file.is_relative_to(fresh_site.resolve()), f"bot.seeddata imported from {seeddata_file}"

    # 3. The installed command line answers from the bundled seed data on first use.
    asked = fresh("-m", "bot", "ask", QUESTION, "--json", "--top", "1")
    assert asked.returncode == 0, f"ask failed:\n{asked.stdout}\n{asked.stderr}"
    data = json.loads(asked.stdout)
    assert data["matches"], f"no match for {QUESTION!r}; stderr:\n{asked.stderr}"
    first = data["matches"][0]
    assert "Islamic State" in first["speaker"]["name"] or "ISIS-K" in first["claim"], first
    assert (tmp_path / "xdg").is_dir(), "the ledger should live under XDG_DATA_HOME"
    assert _leftovers() == before
