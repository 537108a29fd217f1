"""Handling citizen feedback: classification (accept within the agency's competence, forward
to the competent agency, reject with a reason), assignment, extension with a letter of apology,
the answer, its publication and closing. Deadlines and judgements come from the pure core
(:mod:`onestop.feedback`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from onestop.arguments import NoArgs, _Args, validated
from onestop.clock import local_date
from onestop.feedback import RejectReason, classify, due, extension_notice_in_time
from onestop.feedback_item import FeedbackItem
from onestop.feedback_pipeline import FeedbackPipeline
from onestop.inputs import Code, Text, UserId


class _Forward(_Args):
    to_agency: Code
    reason: Text | None = None


class _Reject(_Args):
    reason: RejectReason
    note: Text | None = None


class _Assign(_Args):
    assignee: UserId


class _Extend(_Args):
    reason: Text


class _Answer(_Args):
    summary: Text | None = None


class FeedbackHandling(FeedbackPipeline):
    """Classifying, handling and answering feedback (see
    :class:`~onestop.feedback_pipeline.FeedbackPipeline`)."""

    def _handle_due(self, row: Mapping[str, Any]) -> datetime:
        version = self.law.named(row["law"])
        rules = self.engine.rules.named(row["rule_set"])
        return due(self.engine.calendar, rules, row["received_at"], version.limits.handle.days)

    @staticmethod
    def _finish(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        judged = classify(now, row["due_at"], row["extensions"] > 0)
        return {"resolved_at": now, "resolved_on": local_date(now), "timeliness": judged.value}

    def accept(self, feedback_id: int, **options: Any) -> FeedbackItem:
        """Classify as within the agency's competence: the handling time limit now applies
        (counted from receipt).

        Raises:
            UnknownFeedback, InvalidTransition, StaleVersion, Forbidden, ValidationError.
        """

        def plan(row: Mapping[str, Any], now: datetime, args: _Args) -> Any:
            deadline = self._handle_due(row)
            return {"outcome": "within_competence", "due_at": deadline,
                    "original_due_at": deadline}, {}  # fmt: skip

        return self._run("accept", feedback_id, NoArgs(), options, plan)

    def forward(
        self, feedback_id: int, to_agency: str, *, reason: str | None = None, **options: Any
    ) -> FeedbackItem:
        """Forward to the competent agency (judged against the classification limit).

        Raises:
            UnknownFeedback, UnknownUnit, InvalidTransition, StaleVersion, Forbidden,
            ValidationError.
        """
        args = validated(_Forward, to_agency=to_agency, reason=reason)
        self._units().agency(args.to_agency)

        def plan(row: Mapping[str, Any], now: datetime, a: _Args) -> Any:
            return {"outcome": "forwarded", "forwarded_to": args.to_agency,
                    **self._finish(row, now)}, {}  # fmt: skip

        return self._run("forward", feedback_id, args, options, plan)

    def reject(
        self, feedback_id: int, reason: str, *, note: str | None = None, **options: Any
    ) -> FeedbackItem:
        """Reject with a reason: ``anonymous``, ``duplicate`` or ``outside_scope``.

        Raises:
            UnknownFeedback, InvalidTransition, StaleVersion, Forbidden, ValidationError.
        """
        args = validated(_Reject, reason=reason, note=note)

        def plan(row: Mapping[str, Any], now: datetime, a: _Args) -> Any:
            return {"outcome": "rejected", "reject_reason": args.reason,
                    **self._finish(row, now)}, {}  # fmt: skip

        return self._run("reject", feedback_id, args, options, plan)

    def assign(self, feedback_id: int, assignee: str, **options: Any) -> FeedbackItem:
        """Assign to an officer (again to reassign).

        Raises:
            UnknownFeedback, InvalidTransition, StaleVersion, Forbidden, ValidationError.
        """
        args = validated(_Assign, assignee=assignee)
        return self._run(
            "assign", feedback_id, args, options, lambda r, n, a: ({"assignee": a.assignee}, {})
        )

    def extend(self, feedback_id: int, reason: str, **options: Any) -> FeedbackItem:
        """Extend the handling limit once by the law's extension, with a letter of apology to
        the sender; the item then counts as late, as a dossier after an apology letter.

        Raises:
            UnknownFeedback, InvalidTransition, StaleVersion, Forbidden, ValidationError.
        """
        args = validated(_Extend, reason=reason)

        def plan(row: Mapping[str, Any], now: datetime, a: _Args) -> Any:
            rules = self.engine.rules.named(row["rule_set"])
            days = self.law.named(row["law"]).limits.extension.days
            cal = self.engine.calendar
            new_due = due(cal, rules, row["due_at"], days)
            notice = extension_notice_in_time(cal, rules, now, row["due_at"])
            return {"due_at": new_due, "extensions": row["extensions"] + 1}, {
                "notice_in_time": notice
            }

        return self._run("extend", feedback_id, args, options, plan)

    def answer(
        self, feedback_id: int, *, summary: str | None = None, **options: Any
    ) -> FeedbackItem:
        """Send the answer: judged early, on time or late against the limit in force.

        Raises:
            UnknownFeedback, InvalidTransition, StaleVersion, Forbidden, ValidationError.
        """
        args = validated(_Answer, summary=summary)
        return self._run(
            "answer", feedback_id, args, options, lambda r, n, a: (self._finish(r, n), {})
        )

    def publish(self, feedback_id: int, **options: Any) -> FeedbackItem:
        """Publish the answer (công khai kết quả xử lý).

        Raises:
            UnknownFeedback, InvalidTransition, StaleVersion, Forbidden.
        """
        return self._run(
            "publish", feedback_id, NoArgs(), options, lambda r, n, a: ({"published_at": n}, {})
        )

    def close(self, feedback_id: int, **options: Any) -> FeedbackItem:
        """Close an answered item.

        Raises:
            UnknownFeedback, InvalidTransition, StaleVersion, Forbidden.
        """
        return self._run(
            "close", feedback_id, NoArgs(), options, lambda r, n, a: ({"closed_at": n}, {})
        )
