"""The commands on an existing dossier, one method each, all run by ``Engine.execute``.

Each method validates nothing itself and holds no law: it names a row of the command table
(:data:`onestop.plans.COMMANDS`) and passes its arguments on. Every method also takes the
:class:`~onestop.arguments.Options` ``actor``, ``expected_version`` and ``idempotency_key``, and
may raise ``ValidationError`` (naming the argument), ``UnknownDossier``, ``StaleVersion``,
``Forbidden`` or ``InvalidTransition``; a refused command changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Unpack

from onestop.arguments import Options
from onestop.dossier import Dossier


class DossierCommands:
    """The named commands of :class:`onestop.Engine` on existing dossiers."""

    def execute(
        self,
        command: str,
        dossier_id: int,
        arguments: Mapping[str, Any] | None = None,
        **options: Unpack[Options],
    ) -> Dossier:
        """Run a command of the command table (implemented by :class:`onestop.Engine`)."""
        raise NotImplementedError

    def receive_submitted(self, dossier_id: int, **options: Unpack[Options]) -> Dossier:
        """Receive an online submission after checking it; sets the appointment date."""
        return self.execute("receive_submitted", dossier_id, None, **options)

    def refuse(self, dossier_id: int, reason: str, **options: Unpack[Options]) -> Dossier:
        """Refuse an online submission (Form 03): not eligible or not competent."""
        return self.execute("refuse", dossier_id, {"reason": reason}, **options)

    def complete_step(
        self, dossier_id: int, *, note: str | None = None, **options: Unpack[Options]
    ) -> Dossier:
        """Hand the dossier over to the next step's agency (a line of Form 05). A hand-over
        from the desk after the cut-off starts the next step at the next working day's opening."""
        return self.execute("complete_step", dossier_id, {"reason": note}, **options)

    forward = complete_step

    def request_supplement(
        self,
        dossier_id: int,
        reason: str,
        *,
        extra_reason: str | None = None,
        **options: Unpack[Options],
    ) -> Dossier:
        """Ask the applicant to supplement the dossier (Form 02), listing everything missing.

        The first request (the rule set's limit) stops the clock; a further one needs
        ``extra_reason``, which is recorded, and the clock runs on.
        """
        args = {"reason": reason, "extra_reason": extra_reason}
        return self.execute("request_supplement", dossier_id, args, **options)

    def supplement(self, dossier_id: int, **options: Unpack[Options]) -> Dossier:
        """The applicant supplied what was missing; processing resumes. The due times move by
        the waiting time, or restart in full after a lawful ``restart`` request."""
        return self.execute("supplement", dossier_id, None, **options)

    def request_payment(
        self,
        dossier_id: int,
        amount_vnd: int,
        *,
        reason: str | None = None,
        **options: Unpack[Options],
    ) -> Dossier:
        """Ask the applicant to pay fees or taxes; the clock stops (rule set permitting)."""
        args = {"amount_vnd": amount_vnd, "reason": reason}
        return self.execute("request_payment", dossier_id, args, **options)

    def pay(self, dossier_id: int, *, online: bool = False, **options: Unpack[Options]) -> Dossier:
        """The applicant paid (online or not); processing resumes."""
        return self.execute("pay", dossier_id, {"online": online}, **options)

    def suspend(self, dossier_id: int, reason: str, **options: Unpack[Options]) -> Dossier:
        """Stop processing (dừng xử lý); the clock stops until :meth:`resume` or withdrawal."""
        return self.execute("suspend", dossier_id, {"reason": reason}, **options)

    def resume(self, dossier_id: int, **options: Unpack[Options]) -> Dossier:
        """Resume a suspended dossier; the suspended time does not count."""
        return self.execute("resume", dossier_id, None, **options)

    def withdraw(
        self, dossier_id: int, *, reason: str | None = None, **options: Unpack[Options]
    ) -> Dossier:
        """Withdraw at the applicant's request; ends the dossier without a result."""
        return self.execute("withdraw", dossier_id, {"reason": reason}, **options)

    def resolve(
        self,
        dossier_id: int,
        *,
        outcome: str = "approved",
        note: str | None = None,
        electronic: bool | None = None,
        digitised: bool | None = None,
        **options: Unpack[Options],
    ) -> Dossier:
        """The result is ready (approved or denied); timeliness is judged now. ``electronic``
        and ``digitised`` record whether the result was issued electronically and digitised."""
        args = {"outcome": outcome, "note": note, "electronic": electronic, "digitised": digitised}
        return self.execute("resolve", dossier_id, args, **options)

    def apologise(
        self, dossier_id: int, new_due: datetime, reason: str, **options: Unpack[Options]
    ) -> Dossier:
        """Issue an apology letter (Form 04) with a new appointment date.

        The dossier still counts as late. The event records whether the letter was issued by
        the rule set's notice day (a working day before the appointment, any time that day).

        Raises:
            ValidationError: If ``new_due`` is naive, in the past, or not after the current one.
            InvalidTransition: If the rules allow no further reset, or the dossier is not open.
        """
        args = {"new_due": new_due, "reason": reason}
        return self.execute("apologise", dossier_id, args, **options)

    def dispatch_post(
        self, dossier_id: int, *, tracking: str | None = None, **options: Unpack[Options]
    ) -> Dossier:
        """Hand the result to the public postal service (Decision 45/2016)."""
        return self.execute("dispatch_post", dossier_id, {"tracking": tracking}, **options)

    def return_result(self, dossier_id: int, **options: Unpack[Options]) -> Dossier:
        """The applicant has the result (at the desk, online, or delivered by post)."""
        return self.execute("return_result", dossier_id, None, **options)

    def rate(self, dossier_id: int, score: int, **options: Unpack[Options]) -> Dossier:
        """Record the applicant's satisfaction rating (1–5), once, on a returned dossier."""
        return self.execute("rate", dossier_id, {"score": score}, **options)

    def correct_applicant(
        self, dossier_id: int, applicant: Mapping[str, Any], **options: Unpack[Options]
    ) -> Dossier:
        """Correct the applicant's personal data at their request (Decree 13/2023): ``name``,
        ``id_number``, ``phone``, ``address``, those given replace the vault's. The event
        records which fields changed, never their values."""
        return self.execute("correct_personal_data", dossier_id, applicant, **options)

    def erase_applicant(self, dossier_id: int, **options: Unpack[Options]) -> Dossier:
        """Erase the applicant's personal data (Decree 13/2023): their vault row is deleted;
        the dossier keeps its history, whose chain stays valid, and an event records the
        erasure (without the data)."""
        return self.execute("erase_personal_data", dossier_id, None, **options)
