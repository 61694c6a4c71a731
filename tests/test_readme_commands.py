"""The README's two commands (issue 18 §9): the first installs only what the service
needs — no test tool, browser driver or NLP model of the ``dev`` group (it was a 1.5 GB
environment with Playwright and spaCy) — and the one system-package command the test
command needs is named: in the README beside it, and by the run itself on a machine
without it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from support import CHROMAPRINT_INSTALL, require_chromaprint

ROOT = Path(__file__).resolve().parent.parent
# What only the tests need, and weighs: none may reach the service's environment.
TEST_ONLY = {"pytest", "playwright", "spacy", "presidio-analyzer", "moto", "schemathesis"}


def reachable(group: str | None) -> set[str]:
    """Every package installed for the project's dependencies (``group`` None: what
    ``uv run --no-dev`` installs) or for one dependency group, read from uv.lock and
    followed through each package's own dependencies and the extras asked of it."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages = {p["name"]: p for p in lock["package"]}
    project = packages["datatrust"]
    roots = project["dependencies"] if group is None else project["dev-dependencies"][group]
    seen: set[str] = set()
    todo = [(d["name"], tuple(d.get("extra", ()))) for d in roots]
    while todo:
        name, extras = todo.pop()
        package = packages[name]
        wanted = list(package.get("dependencies", []))
        for extra in extras:
            wanted += package.get("optional-dependencies", {}).get(extra, [])
        if name in seen and not extras:
            continue
        seen.add(name)
        todo += [(d["name"], tuple(d.get("extra", ()))) for d in wanted if d["name"] not in seen]
    return seen


def test_the_first_command_installs_the_service_without_the_test_tools():
    readme = (ROOT / "README.md").read_text()
    first = re.search(r"```bash\n(.+?)\n```", readme).group(1)
    assert first == "pip install uv && uv run --no-dev datatrust serve --dev --demo"
    runtime = reachable(None)
    assert {"fastapi", "uvicorn", "sqlalchemy", "av"} <= runtime  # the walk finds the service
    assert reachable("dev") >= TEST_ONLY  # ...and would find these (spaCy through Presidio)
    assert runtime & TEST_ONLY == set()


def test_the_test_command_names_the_system_packages_to_install_first():
    readme = (ROOT / "README.md").read_text()
    test_command = readme.index("```bash\nuv run pytest\n```")
    install = readme.index(CHROMAPRINT_INSTALL)
    # Named in the paragraph that follows the command, with the package the service uses.
    assert test_command < install < readme.index("## ", test_command)


def test_a_chromaprint_test_on_a_machine_without_it_names_the_command(monkeypatch, pytestconfig):
    """On a fresh clone without libchromaprint1 the README's test command ended in three
    bare assertion failures ('spectral-v1' != 'chromaprint'); they now fail naming the
    command, and the run's header says it before the first test."""
    from datatrust.pipeline import fingerprint

    require_chromaprint()  # this machine has it
    monkeypatch.setattr(fingerprint, "HAVE_CHROMAPRINT", False)
    with pytest.raises(
        pytest.fail.Exception, match=re.escape(f"run `{CHROMAPRINT_INSTALL}` first")
    ):
        require_chromaprint()
    header = pytestconfig.hook.pytest_report_header(config=pytestconfig, start_path=ROOT)
    assert any(CHROMAPRINT_INSTALL in line for lines in header for line in lines)
