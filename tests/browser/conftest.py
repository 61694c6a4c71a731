"""A real server and a real browser: uvicorn on a free local port over a fresh database
seeded with the demo people, and Debian's Chromium driven by Playwright.

Outside CI a missing Chromium (or Playwright) skips these tests with a reason; in CI it
fails them, like PostgreSQL and Redis (``support.require_service``).
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from contributor_steps import SOUND_TASK

from support import FreshDatabase, make_settings, require_service

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
README = ROOT / "README.md"
# Installed by `npm ci` from package-lock.json (.ci/run does it); never committed.
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 360, "height": 740}
# The live server's Services, for fixtures that set up what a journey needs (an open task).
LIVE: dict[str, object] = {}


def _chromium_available() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).exists() or shutil.which("chromium") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, databases: FreshDatabase
) -> Iterator[str]:
    """The app served by uvicorn in a thread, over a fresh database with the demo people."""
    import uvicorn

    from datatrust.bootstrap import build, upgrade_database
    from datatrust.services.demo import seed_demo
    from datatrust.web.app import create_app

    port = _free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("browser"),
        database_url=databases.create(),
        base_url=f"http://127.0.0.1:{port}",
        # Every browser test of this worker signs up from 127.0.0.1 on this one server:
        # with the default 10 per 15 minutes, the eleventh sign-up of a worker was told to
        # wait (CI failed once the token page's three sign-ups joined the personas' on one
        # worker). The throttle itself is tested in tests/web.
        sign_up_client_free_requests=1000,
    )
    upgrade_database(settings)  # build() migrates only an embedded SQLite database
    services = build(settings)
    seed_demo(services, services.payment_rail, services.payouts)
    LIVE["services"] = services
    config = uvicorn.Config(
        create_app(services, start_worker=False),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def live_services(live_server: str) -> object:
    """The live server's Services (its mail folder holds the sign-up links)."""
    return LIVE["services"]


@pytest.fixture(scope="session")
def playwright() -> Iterator:
    """One Playwright driver for the session: its sync API cannot run twice at once."""
    require_service("Chromium (apt-get install chromium) with Playwright", _chromium_available())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


def _launch(playwright, *extra: str):
    return playwright.chromium.launch(
        executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
        headless=True,
        args=[*CHROMIUM_ARGS, *extra],
    )


@pytest.fixture(scope="session")
def browser(playwright) -> Iterator:
    chromium = _launch(playwright)
    yield chromium
    chromium.close()


@pytest.fixture
def phone(browser, live_server: str) -> Iterator:
    """A fresh browser context (no cookies) the size of a cheap Android phone."""
    context = browser.new_context(viewport=PHONE, base_url=live_server, locale="en-GB")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def readme_screenshots() -> tuple[Path | None, set[str]]:
    """Where to refresh the README's pictures, and which: with ``DATATRUST_SCREENSHOTS``
    set (``docs/screenshots``, relative to the repository), each page ``check`` saves
    under a name the README shows (``docs/screenshots/NAME.png``) is written there too."""
    chosen = os.environ.get("DATATRUST_SCREENSHOTS")
    if not chosen:
        return None, set()
    folder = ROOT / chosen
    folder.mkdir(parents=True, exist_ok=True)
    shown = re.findall(rf"{re.escape(chosen.strip('/'))}/([\w-]+)\.png", README.read_text())
    return folder, set(shown)


# Run in the page: what axe-core leaves to the page author, checked at the phone's width.
LAYOUT_CHECKS = """() => {
  const problems = [];
  if (document.querySelectorAll('h1').length !== 1) problems.push('not exactly one h1');
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    problems.push('scrolls sideways at ' + window.innerWidth + 'px');
  return problems;
}"""
# axe-core's rules (WCAG 2.x A and AA, and its best practices); each violation as
# "rule (impact): first offending element".
AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes[0].html.slice(0, 120)}`);
}"""


@pytest.fixture(scope="session")
def check(screenshots: Path) -> Callable[[Any, str], None]:
    """``check(page, name)``: axe-core on the page as shown (no violation of any impact),
    the layout checks, and a screenshot ``name.png`` for the record. axe runs through the
    DevTools protocol, not as a page script, so the page's own scripts (counted by the
    weight tests) and its Content-Security-Policy are untouched."""
    if not AXE.exists() and shutil.which("npm"):
        # The pinned axe-core comes from package-lock.json; node_modules is never committed.
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ROOT, check=False)
    require_service("axe-core (npm ci, from package-lock.json)", AXE.exists())
    axe_source = AXE.read_text()
    readme_folder, for_readme = readme_screenshots()

    def check_page(page: Any, name: str) -> None:
        if page.evaluate("() => typeof axe") == "undefined":
            page.evaluate(axe_source)
        violations = page.evaluate(AXE_RUN)
        assert not violations, f"{name}: axe-core violations: " + "; ".join(violations)
        layout = page.evaluate(LAYOUT_CHECKS)
        assert not layout, f"{name}: layout problems: " + "; ".join(layout)
        page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
        if name in for_readme:
            shutil.copyfile(screenshots / f"{name}.png", readme_folder / f"{name}.png")

    return check_page


def _open_platform_task(**terms: Any) -> dict[str, object]:
    """A platform task of the demo operator's on the live server, created with ``terms``
    (``campaigns.create_campaign``'s arguments), funded and opened."""
    from datatrust.adapters.payments import FakeCardRail
    from datatrust.domain.accounts import User
    from datatrust.services import money
    from datatrust.services.accounts.accounts import actor_for
    from datatrust.services.campaigns import campaigns

    services = LIVE["services"]
    # Campaigns state their expected effort once the pay-floor recheck lands (issue 6).
    takes_effort = (
        "expected_minutes_per_item" in inspect.signature(campaigns.create_campaign).parameters
    )
    effort = {"expected_minutes_per_item": 1} if takes_effort else {}
    with services.uow() as unit:  # type: ignore[attr-defined]
        operator = actor_for(unit, unit.one(User, email="operator@demo.datatrust"))
        campaign = campaigns.create_campaign(unit, operator, **{**effort, **terms})
    with services.uow() as unit:  # type: ignore[attr-defined]
        # Every campaign opens only once escrow covers it; the operator funds this one.
        needed = money.required_escrow(campaign)
        money.fund_campaign_escrow(unit, FakeCardRail(), operator, campaign.id, needed, "open")
    with services.uow() as unit:  # type: ignore[attr-defined]
        campaigns.open_campaign(unit, operator, campaign.id, services.policy.pay_floors)
    return {"id": campaign.id, "title": campaign.title}


@pytest.fixture(scope="session")
def open_platform_task(live_server: str) -> Callable[..., dict[str, object]]:
    """``open_platform_task(**terms)``: a task of the demo operator's, funded and open."""
    return _open_platform_task


@pytest.fixture(scope="session")
def open_task(open_platform_task) -> dict[str, object]:
    """An open platform task for street sounds (``SOUND_TASK``), funded and opened by the
    demo operator."""
    return open_platform_task(
        title="Sounds of your street",
        description="Two seconds or more of the street outside, with nobody talking.",
        **SOUND_TASK,
    )


def _street_wav(folder: Path, seed: int) -> Path:
    """Six seconds of street noise (no speech) made with ``seed``, as a WAV file."""
    import numpy as np
    import soundfile as sf

    import ingest_media as media

    noise = media.street_noise(6, seed=seed)
    mono = noise.mean(axis=0) if noise.ndim == 2 else noise
    path = folder / f"street-{seed}.wav"
    sf.write(str(path), np.asarray(mono, dtype=np.float32), media.RATE, subtype="PCM_16")
    return path


@pytest.fixture(scope="session")
def microphone_playing(
    playwright, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[int], Any]]:
    """``microphone_playing(seed)``: Chromium with a fake microphone that plays six seconds
    of street noise made with ``seed``, and no permission prompt; one browser per seed for
    the session. Uploads recorded with different seeds are not duplicates of each other
    (the duplicate check refuses the same sound from a second contributor)."""
    folder = tmp_path_factory.mktemp("audio")
    launched: dict[int, Any] = {}

    def browser_for(seed: int) -> Any:
        if seed not in launched:
            launched[seed] = _launch(
                playwright,
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={_street_wav(folder, seed)}",
            )
        return launched[seed]

    yield browser_for
    for chromium in launched.values():
        chromium.close()


@pytest.fixture(scope="session")
def recording_browser(microphone_playing: Callable[[int], Any]) -> Any:
    """Chromium whose fake microphone plays the street noise the journeys record."""
    return microphone_playing(11)


@pytest.fixture(scope="session")
def listed_item(open_task: dict[str, object]) -> int:
    """One of Priya's street recordings, under a training-only licence with consent,
    accepted by the operator and listed; and the demo buyer's funds topped up to buy it."""
    import ingest_media as media
    from datatrust.adapters.payments import FakeCardRail
    from datatrust.domain.accounts import User
    from datatrust.domain.money import Money
    from datatrust.services import money
    from datatrust.services.accounts.accounts import actor_for
    from datatrust.services.campaigns import campaigns
    from datatrust.services.contributions import items
    from datatrust.services.licensing import consent, licences

    services = LIVE["services"]

    def actor(email: str):
        with services.uow() as unit:  # type: ignore[attr-defined]
            return actor_for(unit, unit.one(User, email=email))

    priya, operator = actor("priya@demo.datatrust"), actor("operator@demo.datatrust")
    with services.uow() as unit:  # type: ignore[attr-defined]
        item = items.receive_item(
            unit,
            services.storage,  # type: ignore[attr-defined]
            priya,
            kind="ambient",
            filename="market.ogg",
            content_type="audio/ogg",
            chunks=[media.ambient(seed=5, fmt="opus")],
            title="Market street",
            campaign_id=open_task["id"],
        )
    with services.uow() as unit:  # type: ignore[attr-defined]
        checked = items.get_item(unit, priya, item.id)
        assert checked.status.value in ("processed", "accepted"), checked.report.get("reasons")
        offer = licences.create_offer(
            unit, priya, template="training_only", changes={"price_minor": 300}
        )
    with services.uow() as unit:  # type: ignore[attr-defined]
        consent.give_consent_for_item(
            unit,
            services.signer,  # type: ignore[attr-defined]
            priya,
            item.id,
            offer_id=offer.id,
        )
    with services.uow() as unit:  # type: ignore[attr-defined]
        campaigns.submit_review(unit, operator, open_task["id"], item.id, up=True)
    with services.uow() as unit:  # type: ignore[attr-defined]
        money.deposit_buyer_funds(
            unit,
            FakeCardRail(),
            actor("buyer@demo.datatrust"),
            Money(100_000, "USD"),
            "browser-journey",
        )
    return item.id
