"""Laws every licence decision obeys, checked on generated licences and uses.

``licences()`` and ``uses()`` are also imported by ``test_odrl.py``.
"""

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datatrust.domain.licence import (
    DENY_CODES,
    MIN_REPLICA_DESCRIPTION_CHARS,
    ON_END_CHOICES,
    PRICE_UNITS,
    REPLICA_MEDIA,
    Licence,
    Organisation,
    ReasonCode,
    Use,
    add_years,
    evaluate,
)
from datatrust.domain.purposes import (
    ACTIONS,
    INDUSTRIES,
    OUTPUTS,
    PURPOSES,
    REPLICA_CATEGORIES,
    REPLICA_CHANNELS,
    SENSITIVE_USES,
    TASKS,
    USES,
    sensitive_kind,
)
from datatrust.domain.territories import ISO_3166_ALPHA2, WORLD

PURPOSE_CODES = sorted(PURPOSES.codes)
INDUSTRY_CODES = sorted(INDUSTRIES.codes)
ACTION_CODES = sorted(ACTIONS.codes)
# 'redistribute' stays an action a use may name (and be denied), never one a licence permits.
PERMITTABLE_ACTIONS = sorted(ACTIONS.codes - {"redistribute"})
NAMED_USES = sorted(SENSITIVE_USES - {"digital_replica"})
ORGS = ["org-1", "org-2"]
USE_CODES = sorted(USES.codes)
COUNTRIES = sorted(ISO_3166_ALPHA2)

moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2032, 12, 31), timezones=st.just(UTC)
)
titles = st.text(min_size=1, max_size=40).filter(lambda s: s.strip())
descriptions = st.text(min_size=MIN_REPLICA_DESCRIPTION_CHARS, max_size=80).filter(
    lambda s: len(s.strip()) >= MIN_REPLICA_DESCRIPTION_CHARS
)


# Drawing a whole licence is slow on a loaded machine; the draws are the point here.
SLOW_DRAWS = settings(suppress_health_check=[HealthCheck.too_slow])


@st.composite
def licences(draw, scope=False):
    """Valid licences spread over every field's range.

    ``scope`` also draws the replica grant's scope, its own end, per-use approval and the
    withdrawal notice (issue 16 §3, §5). It is off by default because ``test_odrl`` draws
    from here and the ODRL mapping does not carry those fields yet.
    """
    permitted = draw(st.frozensets(st.sampled_from(PURPOSE_CODES), min_size=1, max_size=4))
    # A prohibited purpose may carve a sub-purpose out of a permitted one, but may not sit
    # above a permitted purpose (that is a contradiction the validator rejects).
    free = [p for p in PURPOSE_CODES if not any(PURPOSES.is_a(a, p) for a in permitted)]
    prohibited = draw(st.frozensets(st.sampled_from(free), max_size=4)) if free else frozenset()
    actions = draw(st.frozensets(st.sampled_from(PERMITTABLE_ACTIONS), min_size=1, max_size=4))
    replica = draw(st.none() | descriptions)
    if "create_replica" in actions and replica is None:
        replica = "A described use of the replica, long enough to read"
    banned_uses = draw(st.frozensets(st.sampled_from(USE_CODES), max_size=4))
    media = languages = categories = channels = frozenset()
    if replica is not None:
        banned_uses -= {"digital_replica"}
        media = draw(st.frozensets(st.sampled_from(REPLICA_MEDIA), min_size=1))
    if replica is not None and scope:
        languages = draw(st.frozensets(st.sampled_from(["en", "hi", "zu", "xh"]), max_size=3))
        categories = draw(st.frozensets(st.sampled_from(sorted(REPLICA_CATEGORIES)), max_size=3))
        channels = draw(st.frozensets(st.sampled_from(sorted(REPLICA_CHANNELS)), max_size=3))
    if draw(st.booleans()):
        territories = frozenset({WORLD})
        excluded = draw(st.frozensets(st.sampled_from(COUNTRIES), max_size=3))
    else:
        territories = draw(st.frozensets(st.sampled_from(COUNTRIES), min_size=1, max_size=5))
        excluded = frozenset()
    start = draw(moments)
    longest = (add_years(start, 5) - start).days
    end = start + timedelta(days=draw(st.integers(1, longest)))
    replica_until = None
    if replica is not None and scope and draw(st.booleans()):
        replica_days = (add_years(start, 10) - start).days
        replica_until = start + timedelta(days=draw(st.integers(1, replica_days)))
    permitted_uses = draw(st.frozensets(st.sampled_from(NAMED_USES), max_size=2))
    banned_uses = frozenset(
        u for u in banned_uses if not any(USES.is_a(p, u) for p in permitted_uses)
    )
    exclusive = draw(st.booleans())
    exclusive_until = exclusive_to = None
    if exclusive:
        days = min((end - start).days, 730)
        exclusive_until = start + timedelta(days=draw(st.integers(1, days)))
        exclusive_to = draw(st.sampled_from(ORGS))
    offered_to = draw(st.frozensets(st.sampled_from(ORGS), max_size=2))
    if exclusive_to is not None and offered_to:
        offered_to |= {exclusive_to}
    return Licence(
        id=draw(st.text(min_size=1, max_size=20).filter(lambda s: s.strip())),
        version=draw(st.integers(1, 50)),
        title=draw(titles),
        permitted_purposes=permitted,
        prohibited_purposes=prohibited,
        prohibited_industries=draw(st.frozensets(st.sampled_from(INDUSTRY_CODES), max_size=6)),
        prohibited_uses=banned_uses,
        permitted_actions=actions,
        territories=territories,
        excluded_territories=excluded,
        valid_from=start,
        valid_until=end,
        exclusive=exclusive,
        exclusive_until=exclusive_until,
        price_minor=draw(st.integers(0, 10**9)),
        currency=draw(st.sampled_from(["USD", "INR", "ZAR", "EUR", "JPY"])),
        price_unit=draw(st.sampled_from(PRICE_UNITS)),
        royalty_share_percent=draw(st.integers(0, 100)),
        deletion_deadline_days=draw(st.integers(1, 30)),
        on_end=draw(st.sampled_from(ON_END_CHOICES)),
        replica_use_description=replica,
        replica_media=media,
        replica_languages=languages,
        replica_categories=categories,
        replica_channels=channels,
        replica_until=replica_until,
        replica_ask_each_time=replica is not None and scope and draw(st.booleans()),
        withdrawal_notice_days=draw(st.integers(0, 730)) if scope else 0,
        permitted_uses=permitted_uses,
        offered_to=offered_to,
        exclusive_to=exclusive_to,
    )


@st.composite
def uses(draw, purposes=st.sampled_from(PURPOSE_CODES)):
    return Use(
        action=draw(st.sampled_from(ACTION_CODES)),
        purpose=draw(purposes),
        industry=draw(st.sampled_from(INDUSTRY_CODES)),
        territory=draw(st.sampled_from(COUNTRIES)),
        recipient_org=Organisation(id="org-1", name="Buyer"),
        at=draw(moments),
        declared_uses=draw(st.frozensets(st.sampled_from(USE_CODES), max_size=2)),
        task=draw(st.none() | st.sampled_from(sorted(TASKS.codes))),
        outputs=draw(st.frozensets(st.sampled_from(sorted(OUTPUTS.codes)), max_size=2)),
        until=draw(st.none() | moments),
    )


def unknown(known):
    return st.text(min_size=1, max_size=12).filter(lambda s: s not in known)


@SLOW_DRAWS
@given(licences(scope=True), uses())
def test_a_use_under_a_prohibited_purpose_is_denied_whatever_is_permitted(licence, use):
    if not licence.prohibited_purposes:
        return
    banned = sorted(licence.prohibited_purposes)[0]
    # Permit the banned purpose's parent too: the prohibition must still win.
    use = Use(**{**use.__dict__, "purpose": banned})
    decision = evaluate(licence, use)
    assert not decision.allowed
    assert ReasonCode.PURPOSE_PROHIBITED in decision.codes


@SLOW_DRAWS
@given(licences(scope=True), uses())
def test_a_use_in_a_prohibited_industry_is_denied(licence, use):
    for banned in licence.prohibited_industries:
        decision = evaluate(licence, Use(**{**use.__dict__, "industry": banned}))
        assert ReasonCode.INDUSTRY_PROHIBITED in decision.codes
        assert not decision.allowed


@SLOW_DRAWS
@given(licences(scope=True), uses())
def test_a_prohibited_use_is_denied_even_when_the_action_is_permitted(licence, use):
    for banned in licence.prohibited_uses:
        decision = evaluate(licence, Use(**{**use.__dict__, "declared_uses": {banned}}))
        assert ReasonCode.USE_PROHIBITED in decision.codes


@SLOW_DRAWS
@given(licences(scope=True), uses(), st.sampled_from(["withdrawn", "expired"]))
def test_withdrawn_or_expired_consent_always_denies(licence, use, state):
    decision = evaluate(licence, use, state=state)
    assert not decision.allowed
    assert f"consent_{state}" in decision.codes


@given(
    licences(),
    uses(),
    st.sampled_from(["action", "purpose", "industry", "territory", "declared_uses"]),
    st.data(),
)
def test_anything_unknown_always_denies(licence, use, field, data):
    known = {
        "action": ACTIONS.codes,
        "purpose": PURPOSES.codes,
        "industry": INDUSTRIES.codes,
        "territory": ISO_3166_ALPHA2,
        "declared_uses": USES.codes,
    }[field]
    value = data.draw(unknown(known))
    if field == "declared_uses":
        value = frozenset({value})
    decision = evaluate(licence, Use(**{**use.__dict__, field: value}))
    assert not decision.allowed


@SLOW_DRAWS
@given(licences(scope=True), uses(), st.sampled_from(["active", "withdrawn", "expired", "other"]))
def test_a_decision_is_allowed_exactly_when_it_has_no_deny_reason(licence, use, state):
    decision = evaluate(licence, use, state=state)
    deny = [r for r in decision.reasons if r.code in DENY_CODES]
    assert decision.allowed == (not deny)
    assert decision.reasons


@SLOW_DRAWS
@given(licences(scope=True), uses())
def test_an_allowed_use_meets_every_term(licence, use):
    decision = evaluate(licence, use)
    if not decision.allowed:
        return
    replica = any(sensitive_kind(k) == "digital_replica" for k in use.all_uses())
    assert (
        licence.valid_from <= use.at < (licence.replica_ends_at if replica else licence.valid_until)
    )
    if replica:
        # Every part of a replica use is inside the grant.
        assert use.replica is not None
        assert use.replica.languages <= licence.replica_languages
        assert use.replica.category in licence.replica_categories
        assert use.replica.channels <= licence.replica_channels
    assert use.action in licence.permitted_actions
    assert PURPOSES.matching(use.purpose, licence.permitted_purposes)
    assert not PURPOSES.matching(use.purpose, licence.prohibited_purposes)
    assert not INDUSTRIES.matching(use.industry, licence.prohibited_industries)
    assert licence.worldwide or use.territory in licence.territories
    assert use.territory not in licence.excluded_territories
    # Fail closed on sensitive uses: each one the use involves is permitted by name.
    for kind in use.all_uses():
        sensitive = sensitive_kind(kind)
        if sensitive == "digital_replica":
            assert licence.allows_replica
        elif sensitive is not None:
            assert USES.matching(kind, licence.permitted_uses)
    if licence.offered_to:
        assert use.recipient_org.id in licence.offered_to


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(licences(scope=True), st.data())
def test_evaluation_is_monotone_in_the_time_window(licence, data):
    """Allowed at t means t is inside the window; a narrower window allows no more."""
    # A use built to satisfy the licence, so allowed decisions actually occur.
    use = Use(
        action=sorted(licence.permitted_actions - {"create_replica", "redistribute"} or {"x"})[0],
        purpose=sorted(licence.permitted_purposes)[0],
        industry=data.draw(
            st.sampled_from(
                [
                    i
                    for i in INDUSTRY_CODES
                    if not INDUSTRIES.matching(i, licence.prohibited_industries)
                ]
                or ["technology"]
            )
        ),
        territory=data.draw(
            st.sampled_from(
                sorted(
                    (ISO_3166_ALPHA2 if licence.worldwide else licence.territories)
                    - licence.excluded_territories
                )
            )
        ),
        recipient_org=Organisation(id="org-1", name="Buyer"),
        at=data.draw(moments),
    )
    decision = evaluate(licence, use)
    inside = licence.valid_from <= use.at < licence.valid_until
    if decision.allowed:
        assert inside
    if not inside:
        assert not decision.allowed
    # Narrowing the window never turns a denial into an allowance.
    shrink = data.draw(st.integers(0, (licence.valid_until - licence.valid_from).days - 1))
    end = licence.valid_until - timedelta(days=shrink)
    # Exclusivity stays (clamped to the new end): dropping it would widen who may use it.
    until = licence.exclusive_until
    narrower = licence.replace(
        valid_until=end,
        exclusive_until=min(until, end) if until is not None else None,
    )
    if evaluate(narrower, use).allowed:
        assert decision.allowed


@SLOW_DRAWS
@given(licences(scope=True))
def test_every_generated_licence_round_trips_through_a_dict(licence):
    assert Licence.from_dict(licence.to_dict()) == licence
    assert licence.revocable
