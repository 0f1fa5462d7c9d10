"""The hash-chained audit log: who changed what, when; `record` in the transaction of the change."""

from hub.audit.models import AuditEntry, AuditHead
from hub.audit.service import Problem, Verification, fields_given, record, recorded_export, verify

__all__ = [
    "AuditEntry",
    "AuditHead",
    "Problem",
    "Verification",
    "fields_given",
    "record",
    "recorded_export",
    "verify",
]
