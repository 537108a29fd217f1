"""The sender's satisfaction with the answer to their feedback: a score from 1 to 5, given once
on an answered item, with the channel and the time. It is a fact recorded on the item, not a
transition; the answer also goes to the satisfaction table (:mod:`onestop.satisfaction`), the
only place its free-text comment is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field

from onestop.arguments import _Args, validated
from onestop.clock import local_date
from onestop.errors import InvalidTransition
from onestop.feedback import RatingChannel
from onestop.feedback_item import FeedbackItem
from onestop.feedback_pipeline import FeedbackPipeline
from onestop.inputs import Text
from onestop.store import UnitOfWork, feedback_rows

#: The statuses of an item whose answer can be rated.
_ANSWERED = ("answered", "published", "closed")


class _Rating(_Args):
    score: int = Field(ge=1, le=5, strict=True)
    channel: RatingChannel
    comment: Text | None = None


class FeedbackRating(FeedbackPipeline):
    """Rating the answer to feedback (see :class:`~onestop.feedback_pipeline.FeedbackPipeline`)."""

    def rate(
        self,
        feedback_id: int,
        score: int,
        channel: str,
        *,
        comment: str | None = None,
        **options: Any,
    ) -> FeedbackItem:
        """Record the sender's satisfaction with the answer (1–5), once, with the channel and
        the time; a comment is kept in the satisfaction table only (not in the event chain, not
        in logs).

        Raises:
            UnknownFeedback, InvalidTransition, StaleVersion, Forbidden, ValidationError.
        """
        args = validated(_Rating, score=score, channel=channel, comment=comment)

        def satisfaction(uow: UnitOfWork, after: Mapping[str, Any], now: datetime) -> None:
            feedback_rows.insert_rating(uow.conn, _rating_row(after, args, now))

        return self._run(
            "rate", feedback_id, args, options, _rate_plan,
            fires=False, unrecorded={"comment"}, also=satisfaction,
        )  # fmt: skip


def _rate_plan(row: Mapping[str, Any], now: datetime, args: Any) -> Any:
    if row["status"] not in _ANSWERED:
        raise InvalidTransition(
            "rate", row["status"], "only an answered feedback item can be rated"
        )
    if row["rating"] is not None:
        raise InvalidTransition("rate", row["status"], "the answer has already been rated")
    return {"rating": args.score, "rated_at": now, "rating_channel": args.channel}, {}


def _rating_row(after: Mapping[str, Any], args: _Rating, now: datetime) -> dict[str, Any]:
    return {
        "kind": "feedback", "case_id": after["id"], "form_id": None, "unit": after["unit"],
        "level": after["level"], "score": args.score, "channel": args.channel,
        "answered_at": now, "answered_on": local_date(now), "comment": args.comment,
    }  # fmt: skip
