"""What makes the platform checkable: the hash-chained audit log and its checkpoints,
incidents, misuse tracing and each item's data passport.

What other code may use; everything else in this package is its own business.
Outside it, import these names from here, never from the modules inside (tests
test_service_packages.py)."""

from datatrust.services.trust.audit import read_checkpoint, sign_checkpoint, verify_audit_log
from datatrust.services.trust.incidents import (
    IncidentView,
    close_incident,
    get_incident,
    list_incidents,
    my_notices,
    notify_incident,
    open_incident,
    regulator_report,
    remind_job,
)
from datatrust.services.trust.passport import ACTORS, OTHER_STEP, STEPS, item_passport
from datatrust.services.trust.tracing import (
    MAX_TRACE_BODY_BYTES,
    MAX_TRACE_BYTES,
    open_misuse_report,
    query_of,
    trace,
)

__all__ = [
    "ACTORS",
    "MAX_TRACE_BODY_BYTES",
    "MAX_TRACE_BYTES",
    "OTHER_STEP",
    "STEPS",
    "IncidentView",
    "close_incident",
    "get_incident",
    "item_passport",
    "list_incidents",
    "my_notices",
    "notify_incident",
    "open_incident",
    "open_misuse_report",
    "query_of",
    "read_checkpoint",
    "regulator_report",
    "remind_job",
    "sign_checkpoint",
    "trace",
    "verify_audit_log",
]
