import json
from datetime import UTC, datetime, timedelta

import pytest

from datatrust.domain.consent import (
    ConsentEventType,
    ConsentState,
    DataCategory,
    give_consent,
    receipt_claims,
)
from datatrust.domain.errors import Conflict, InvalidInput

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def a_consent(**changes):
    fields = dict(
        record_id="c-1",
        subject_id="user:12",
        controller="Datatrust Cooperative",
        purposes={"model_training"},
        data_categories=[DataCategory("voice", biometric=True), DataCategory("transcript")],
        notice_version="training_only/1",
        notice_language="hi",
        jurisdiction="IN",
        recipients=["org:7"],
        retention="until withdrawn; buyers delete within 30 days",
        withdrawal_method="one tap on the item's page in the app",
        at=T0,
        actor="user:12",
        expires_at=T0 + timedelta(days=365),
    )
    fields.update(changes)
    return give_consent(**fields)


def test_given_consent_is_active_with_one_event():
    record = a_consent()
    assert record.state is ConsentState.ACTIVE
    assert [e.type for e in record.events] == [ConsentEventType.GIVEN]
    assert record.includes_biometric_data


def test_withdrawing_appends_one_event_and_keeps_the_history():
    record = a_consent()
    given = list(record.events)
    withdrawn = record.withdraw(T0 + timedelta(days=3), "user:12")
    assert withdrawn is record
    assert record.state is ConsentState.WITHDRAWN
    assert record.events[:1] == given and len(record.events) == 2
    assert [e.seq for e in record.events] == [0, 1]


def test_a_refused_transition_changes_nothing():
    record = a_consent().withdraw(T0 + timedelta(days=1), "user:12")
    before = (list(record.events), record.state, record.terms)
    for refused in (
        lambda: record.withdraw(T0 + timedelta(days=2), "user:12"),
        lambda: record.renew(T0 + timedelta(days=2), "user:12", None),
        lambda: record.expire(T0 + timedelta(days=2)),
    ):
        with pytest.raises(Conflict):
            refused()
    assert (list(record.events), record.state, record.terms) == before


def test_consent_cannot_be_withdrawn_twice():
    withdrawn = a_consent().withdraw(T0 + timedelta(days=1), "user:12")
    with pytest.raises(Conflict, match="already withdrawn"):
        withdrawn.withdraw(T0 + timedelta(days=2), "user:12")


def test_a_withdrawn_consent_cannot_be_renewed_or_expired():
    withdrawn = a_consent().withdraw(T0 + timedelta(days=1), "user:12")
    with pytest.raises(Conflict, match="cannot be renewed"):
        withdrawn.renew(T0 + timedelta(days=2), "user:12", None)
    with pytest.raises(Conflict):
        withdrawn.expire(T0 + timedelta(days=2))


def test_an_expired_consent_can_be_renewed_or_withdrawn():
    expired = a_consent().expire(T0 + timedelta(days=365))
    assert expired.state is ConsentState.EXPIRED
    renewed = expired.renew(T0 + timedelta(days=400), "user:12", T0 + timedelta(days=800))
    assert renewed.state is ConsentState.ACTIVE
    assert renewed.terms.expires_at == T0 + timedelta(days=800)
    assert expired.withdraw(T0 + timedelta(days=400), "user:12").state is ConsentState.WITHDRAWN


def test_an_expired_consent_cannot_expire_again():
    expired = a_consent().expire(T0 + timedelta(days=365))
    with pytest.raises(Conflict):
        expired.expire(T0 + timedelta(days=366))


def test_events_cannot_go_back_in_time():
    with pytest.raises(InvalidInput, match="earlier"):
        a_consent().withdraw(T0 - timedelta(seconds=1), "user:12")


def test_a_renewal_must_end_after_it_starts():
    with pytest.raises(InvalidInput):
        a_consent().renew(T0 + timedelta(days=2), "user:12", T0 + timedelta(days=1))


def test_giving_consent_reports_every_problem():
    with pytest.raises(InvalidInput) as caught:
        a_consent(
            subject_id=" ",
            purposes={"mind_reading"},
            data_categories=[],
            expires_at=T0 - timedelta(days=1),
        )
    assert [p.field for p in caught.value.problems] == [
        "subject_id",
        "purposes",
        "data_categories",
        "expires_at",
    ]


def test_receipt_claims_describe_the_event_and_the_record_as_json():
    record = a_consent(licence_id="lic-1")
    withdrawn = record.withdraw(T0 + timedelta(days=3), "user:12")
    claims = receipt_claims(withdrawn, withdrawn.events[-1])
    assert json.loads(json.dumps(claims)) == claims
    assert claims["event"] == {
        "index": 1,
        "type": "withdrawn",
        "at": "2025-03-04T09:00:00+00:00",
        "actor": "user:12",
        "resulting_state": "withdrawn",
    }
    assert claims["pii_principal_id"] == "user:12"
    assert claims["purposes"] == [
        {"code": "model_training", "dpv": "https://w3id.org/dpv/ai#ModelTraining"}
    ]
    assert claims["pii_categories"][0] == {"code": "voice", "biometric": True}
    assert claims["notice"] == {"version": "training_only/1", "language": "hi"}
    assert claims["licence_id"] == "lic-1"


def test_a_receipt_for_an_old_event_does_not_change_when_history_grows():
    record = a_consent()
    before = receipt_claims(record, record.events[0])
    later = record.withdraw(T0 + timedelta(days=3), "user:12")
    assert receipt_claims(later, later.events[0]) == before


def test_a_receipt_needs_an_event_of_the_same_record():
    other = a_consent(record_id="c-2").withdraw(T0 + timedelta(days=1), "user:12")
    with pytest.raises(InvalidInput):
        receipt_claims(a_consent(), other.events[-1])
