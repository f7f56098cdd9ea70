"""Evidence packets (issue 6 item 5): export a flagged asset as a signed zip, verify one offline."""

from zhimei.review.evidence.packet import (
    FORMAT,
    EvidenceError,
    EvidenceReport,
    Problem,
    export_evidence,
    verify_evidence,
)

__all__ = ["FORMAT", "EvidenceError", "EvidenceReport", "Problem", "export_evidence", "verify_evidence"]
