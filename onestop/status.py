"""Dossier statuses, their national portal codes and Vietnamese labels, and status groups.

Statuses follow the national public-service portal's vocabulary so a dossier can be
synchronised with it.

Example:
    >>> Status.SUPPLEMENT_REQUESTED.portal_code
    5
    >>> Status.SUSPENDED.is_open, Status.RETURNED.is_final
    (True, True)
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Dossier statuses, named after the national public-service portal's vocabulary."""

    NEW = "new"  # before the first command; never stored
    SUBMITTED = "submitted"
    RECEIVED = "received"
    REFUSED = "refused"
    PROCESSING = "processing"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    PAYMENT_REQUESTED = "payment_requested"
    WITHDRAWN = "withdrawn"
    SUSPENDED = "suspended"
    RESOLVED = "resolved"
    DISPATCHED = "dispatched"
    RETURNED = "returned"

    @property
    def portal_code(self) -> int:
        """The national portal's status code, for synchronisation (0 for ``new``)."""
        return PORTAL_CODES[self]

    @property
    def is_open(self) -> bool:
        """Whether the dossier is still being processed (no result yet, not ended)."""
        return self in OPEN_STATUSES

    @property
    def is_final(self) -> bool:
        """Whether the dossier has ended: no transition leaves this status."""
        return self in FINAL_STATUSES


#: National public-service portal status codes (a postal dispatch is still "processed", 9).
PORTAL_CODES: dict[Status, int] = {
    Status.NEW: 0,
    Status.SUBMITTED: 1,
    Status.RECEIVED: 2,
    Status.REFUSED: 3,
    Status.PROCESSING: 4,
    Status.SUPPLEMENT_REQUESTED: 5,
    Status.PAYMENT_REQUESTED: 6,
    Status.WITHDRAWN: 7,
    Status.SUSPENDED: 8,
    Status.RESOLVED: 9,
    Status.DISPATCHED: 9,
    Status.RETURNED: 10,
}
#: Vietnamese labels of the statuses.
STATUS_VI: dict[Status, str] = {
    Status.NEW: "Mới",
    Status.SUBMITTED: "Mới đăng ký",
    Status.RECEIVED: "Được tiếp nhận",
    Status.REFUSED: "Không được tiếp nhận",
    Status.PROCESSING: "Đang xử lý",
    Status.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung giấy tờ",
    Status.PAYMENT_REQUESTED: "Yêu cầu thực hiện nghĩa vụ tài chính",
    Status.WITHDRAWN: "Công dân yêu cầu rút hồ sơ",
    Status.SUSPENDED: "Dừng xử lý",
    Status.RESOLVED: "Đã xử lý xong",
    Status.DISPATCHED: "Đã gửi kết quả qua bưu chính",
    Status.RETURNED: "Đã trả kết quả",
}
#: Statuses in which the dossier is in the agencies' hands, its deadline running or paused.
OPEN_STATUSES = frozenset(
    {
        Status.RECEIVED,
        Status.PROCESSING,
        Status.SUPPLEMENT_REQUESTED,
        Status.PAYMENT_REQUESTED,
        Status.SUSPENDED,
    }
)
#: Statuses waiting on the applicant or stopped. Whether the deadline clock stops with them is
#: the deadline law's call (``paused_at`` on the dossier), not the status's.
PAUSED_STATUSES = frozenset(
    {Status.SUPPLEMENT_REQUESTED, Status.PAYMENT_REQUESTED, Status.SUSPENDED}
)
#: Statuses a dossier never leaves.
FINAL_STATUSES = frozenset({Status.REFUSED, Status.WITHDRAWN, Status.RETURNED})
