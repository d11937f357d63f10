"""The wheel carries what the installed package needs besides its modules: the example DAGs and
the emulator scenarios the docs point at (``airflow-batch-service demo`` runs them from inside
the package, as Airflow ships its own example DAGs), and the LICENSE.

The wheel is built here as ``pip wheel`` builds it, from a copy of the files the build reads
(the clone stays free of build/ leftovers). ``scripts/wheel_check.sh`` goes further: the sdist
too, then the wheel installed in a fresh venv running the demo."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator

import pytest

from airflow_batch_service.cli import demo

from .conftest import REPO

PACKAGE = "airflow_batch_service"
#: What the build reads: pyproject's readme and license-files, the package and the folder it
#: maps to airflow_batch_service.example_dags.
BUILD_INPUTS = ("pyproject.toml", "README.md", "LICENSE", PACKAGE, "example_dags")
SCENARIO_MENTION = re.compile(r"example_dags/scenarios/[\w.-]+\.json")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_INPUTS:
        if (REPO / name).is_dir():
            shutil.copytree(
                REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy(REPO / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check"]
    build = subprocess.run(
        [*pip_wheel, "--quiet", "--wheel-dir", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (path,) = out.glob("*.whl")
    with zipfile.ZipFile(path) as whl:
        yield whl


def test_the_wheel_ships_the_example_dags_where_the_demo_looks(wheel: zipfile.ZipFile) -> None:
    installed = demo.DAGS_FOLDERS[0]  # where the demo looks first: in its own package
    assert (installed.parent.name, installed.name) == (PACKAGE, "example_dags")
    shipped = f"{PACKAGE}/example_dags"
    dags = sorted((REPO / "example_dags").glob("example_*.py"))
    assert len(dags) >= len(demo.DAGS)
    for dag in dags:
        assert wheel.read(f"{shipped}/{dag.name}") == dag.read_bytes(), dag.name
    assert {f"{dag_id}.py" for dag_id in demo.DAGS} <= {dag.name for dag in dags}


def test_the_wheel_ships_every_scenario_file_the_docs_mention(wheel: zipfile.ZipFile) -> None:
    texts = [REPO / "README.md", *(REPO / "docs").rglob("*.md")]
    texts += (REPO / "example_dags").glob("*.py")
    mentioned = {m for path in texts for m in SCENARIO_MENTION.findall(path.read_text("utf-8"))}
    assert "example_dags/scenarios/emulator.json" in mentioned  # the demo's (docs/emulator.md)
    for relative in sorted(mentioned):
        assert wheel.read(f"{PACKAGE}/{relative}") == (REPO / relative).read_bytes(), relative


def test_the_wheel_ships_the_license(wheel: zipfile.ZipFile) -> None:
    (license_file,) = [n for n in wheel.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
    text = wheel.read(license_file)
    assert text == (REPO / "LICENSE").read_bytes()
    assert b"Apache License" in text and b"Version 2.0, January 2004" in text
    (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    headers = wheel.read(metadata).decode().split("\n\n", 1)[0].splitlines()
    assert "License-Expression: Apache-2.0" in headers
    assert "License-File: LICENSE" in headers


def test_the_wheel_holds_every_module_of_the_package(wheel: zipfile.ZipFile) -> None:
    """pyproject.toml lists the packages (it maps example_dags/ into the package, which `find`
    cannot): a package folder missing from the list would be missing from the wheel."""
    names = set(wheel.namelist())
    modules = [
        path.relative_to(REPO).as_posix()
        for path in (REPO / PACKAGE).rglob("*.py")
        if "__pycache__" not in path.parts
    ]
    missing = sorted(m for m in modules if m not in names)
    assert not missing, f"add their packages to [tool.setuptools] packages: {missing}"
