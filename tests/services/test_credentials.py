"""The cache of verified credentials (``services.credentials``), by itself."""

from __future__ import annotations

from datetime import timedelta

from datatrust.domain.accounts import ApiToken, Membership, User, WebSession
from datatrust.domain.clock import utcnow
from datatrust.services.credentials import CredentialCache
from datatrust.services.ports import ROW_DELETED, ROW_INSERTED


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cache(ttl: float = 10.0, **kwargs) -> tuple[CredentialCache[str], Clock]:
    clock = Clock()
    return CredentialCache(ttl, clock=clock, **kwargs), clock


def later(seconds: float = 3600):
    return utcnow() + timedelta(seconds=seconds)


def test_a_credential_is_remembered_for_its_ttl_and_no_longer():
    credentials, clock = cache(10)
    credentials.put("k", "ana", generation=credentials.generation, expires_at=later())
    clock.now += 9.5
    assert credentials.get("k") == "ana"
    clock.now += 1
    assert credentials.get("k") is None


def test_a_credential_is_never_remembered_past_its_own_expiry():
    credentials, clock = cache(60)
    credentials.put("soon", "ana", generation=credentials.generation, expires_at=later(5))
    credentials.put("gone", "bo", generation=credentials.generation, expires_at=later(-1))
    assert credentials.get("soon") == "ana"
    assert credentials.get("gone") is None
    clock.now += 6
    assert credentials.get("soon") is None


def test_a_lookup_that_raced_a_change_is_not_kept():
    credentials, _ = cache()
    generation = credentials.generation  # the lookup starts reading the database ...
    credentials.changed({ApiToken: {"revoked_at"}})  # ... a revocation commits meanwhile
    credentials.put("k", "ana", generation=generation, expires_at=later())
    assert credentials.get("k") is None
    credentials.put("k", "ana", generation=credentials.generation, expires_at=later())
    assert credentials.get("k") == "ana"


def test_changes_that_decide_who_a_caller_is_empty_the_cache():
    deciding = [
        {ApiToken: {"revoked_at"}},
        {ApiToken: {"scopes", "last_used_at"}},
        {ApiToken: {ROW_DELETED}},
        {WebSession: {"revoked_at"}},
        {User: {"role"}},
        {User: {"erased_at"}},
        {Membership: {ROW_INSERTED}},
        {Membership: {"role"}},
        {Membership: {ROW_DELETED}},
    ]
    for change in deciding:
        credentials, _ = cache()
        credentials.put("k", "ana", generation=credentials.generation, expires_at=later())
        credentials.changed(change)
        assert credentials.get("k") is None, change


def test_bookkeeping_and_new_credentials_keep_the_cache():
    harmless = [
        {ApiToken: {"last_used_at"}},
        {ApiToken: {ROW_INSERTED}},
        {WebSession: {ROW_INSERTED}},
        {User: {ROW_INSERTED, "totp_last_step"}},
        {object: {"anything"}},  # rows that say nothing about callers
    ]
    for change in harmless:
        credentials, _ = cache()
        credentials.put("k", "ana", generation=credentials.generation, expires_at=later())
        credentials.changed(change)
        assert credentials.get("k") == "ana", change


def test_the_least_recently_used_credential_goes_first_when_full():
    credentials, _ = cache(max_entries=2)
    for key in ("a", "b"):
        credentials.put(key, key, generation=credentials.generation, expires_at=later())
    assert credentials.get("a") == "a"  # "b" is now the least recently used
    credentials.put("c", "c", generation=credentials.generation, expires_at=later())
    assert [credentials.get(k) for k in ("a", "b", "c")] == ["a", None, "c"]


def test_a_ttl_of_zero_remembers_nothing():
    credentials, _ = cache(0)
    credentials.put("k", "ana", generation=credentials.generation, expires_at=later())
    assert credentials.get("k") is None
