"""The job handlers a process runs are listed, never registered by an import: every
``@job`` handler of the services is in ``services.handlers.CORE_JOBS``, a plugin's join
only when settings name its module, and two handlers for one name are refused."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import datatrust.services
from datatrust.services.handlers import CORE_JOBS, job_registry
from datatrust.services.jobs import JobRegistry, job


def test_every_job_handler_of_the_services_is_in_the_core_list():
    marked = {
        handler
        for info in pkgutil.walk_packages(datatrust.services.__path__, "datatrust.services.")
        for handler in JobRegistry.marked_in(importlib.import_module(info.name))
    }
    assert marked, "the scan finds the services' handlers"
    assert sorted(h.__qualname__ for h in marked - set(CORE_JOBS)) == []


def test_a_plugin_module_joins_only_when_named():
    assert "test.record" not in job_registry("").handlers
    registry = job_registry("job_plugins, ")
    assert "test.record" in registry.handlers
    assert set(CORE_JOBS) <= set(registry.handlers.values())


def test_two_handlers_for_one_job_name_are_refused():
    def first(uow, payload, ctx):  # pragma: no cover - never run
        pass

    def second(uow, payload, ctx):  # pragma: no cover - never run
        pass

    with pytest.raises(RuntimeError, match="two handlers for job 'same'"):
        JobRegistry.of([job("same")(first), job("same")(second)])
