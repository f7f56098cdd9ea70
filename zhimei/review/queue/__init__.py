"""The review queue (审核队列): a case per asset version from the moderation verdict, priority = risk × reach,
assignment, reason-coded decisions (two reviewers for high risk), SLA timers, bulk decisions, `require_passed`
for publishing, and the hash-chained append-only audit log; plus moderation administration (word lists, policies).
"""

from zhimei.review.queue.admin import (
    add_word,
    delete_wordlist,
    list_wordlists,
    policies_view,
    remove_word,
    set_strict,
    set_threshold,
    strict_mode,
)
from zhimei.review.queue.audit import GENESIS, AuditReport, append_audit, list_audit, verify_audit
from zhimei.review.queue.cases import (
    REASON_CODES,
    NotPassed,
    ReviewError,
    asset_version,
    assign,
    bulk_decide,
    decide,
    get_case,
    list_cases,
    open_case,
    overdue_cases,
    require_passed,
    review_state,
)
from zhimei.review.queue.priority import DEFAULT_REACH, HIGH_RISK_SCORE, SLA_HOURS, priority, risk

__all__ = [
    "add_word", "delete_wordlist", "list_wordlists", "policies_view", "remove_word", "set_strict", "set_threshold",
    "strict_mode", "GENESIS", "AuditReport", "append_audit", "list_audit", "verify_audit", "REASON_CODES",
    "NotPassed", "ReviewError", "asset_version", "assign", "bulk_decide", "decide", "get_case", "list_cases",
    "open_case", "overdue_cases", "require_passed", "review_state", "DEFAULT_REACH", "HIGH_RISK_SCORE", "SLA_HOURS",
    "priority", "risk",
]
