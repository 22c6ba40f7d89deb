"""The installed layout: one ``memlab`` namespace over the repository's top-level folders."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERIC = ("analysis", "gui", "storage", "instruments", "procedures")


def _declared() -> tuple[list[str], dict[str, str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return config["packages"], config["package-dir"]


def test_every_package_folder_is_declared_under_memlab():
    packages, package_dir = _declared()
    folder_of = {}
    for name in packages:
        top = ".".join(name.split(".")[:2]) if name.startswith("memlab.") else name.split(".")[0]
        base = package_dir.get(top, top)
        rest = name[len(top):].lstrip(".").replace(".", "/")
        folder_of[name] = (Path(base) / rest).as_posix() if rest else base
    found = sorted(p.parent.relative_to(ROOT).as_posix()
                   for top in set(package_dir.values())
                   for p in (ROOT / top).rglob("__init__.py"))
    assert sorted(folder_of.values()) == found
    assert all(name == "pyvisa_memsim" or name.startswith("memlab") for name in packages)


@pytest.mark.slow
def test_wheel_holds_only_the_memlab_namespace_and_runs_from_it(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "-w", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("memlab-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
        archive.extractall(tmp_path / "site")
    assert {t for t in tops if not t.endswith(".dist-info")} == {"memlab", "pyvisa_memsim"}
    # Run from the unpacked wheel alone (first on the path, started outside the repository).
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from memlab.cli import main;"
        "rc = main(['-q', 'run', 'iv-sweep', '--set', 'cycles=1', '--out', sys.argv[2]]);"
        "import memlab, memlab.gui, memlab.analysis.report;"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {GENERIC!r}];"
        "assert memlab.__file__.startswith(sys.argv[1]), memlab.__file__;"
        "assert not bad, bad; sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "site"),
                             str(tmp_path / "runs")], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "runs").glob("*.h5"))


def test_python_dash_m_memlab_runs_the_cli(tmp_path):
    result = subprocess.run([sys.executable, "-m", "memlab", "procedures"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "iv-sweep" in result.stdout
