"""Who is acting, what they may see, and the applicant's data: the engine's gate.

Two modes, chosen when the engine is built:

* **directory** (:attr:`Authority.directory` true): every command and query names the acting
  user (``actor=``, a user id); their agency and roles are looked up in the staff directory
  (:mod:`onestop.directory`, table ``officers``) at the command's instant, inside its
  transaction. An :class:`~onestop.access.Actor` built by the caller is only a user id with a
  claim: a claim that differs from the directory (an officer who adds ``leader`` to her roles)
  is refused. A user the directory does not know then is an applicant account. Queries are
  authorized like commands (:meth:`Authority.see`, :meth:`Authority.visibility`).
* **embedded** (no directory): as before the directory existed. Without a policy nothing is
  checked; with one, the caller's :class:`~onestop.access.Actor` is trusted. Queries are not
  filtered. For a host that does its own access control.

In both modes the applicant's personal data goes to the vault (:mod:`onestop.vault`) and
idempotency keys are scoped to (user, command, dossier) and bound to their arguments.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import structlog

from onestop.access import Actor, Forbidden, OneStopPolicy, Policy
from onestop.arguments import Applicant, Correction
from onestop.dossier import Dossier
from onestop.errors import ValidationError, VaultKeyError
from onestop.store import UnitOfWork, to_json
from onestop.store.officers import officer_at
from onestop.store.queries import Visible, step_agencies
from onestop.store.vault_rows import erase_row, insert_row, load_row, update_row
from onestop.units import Units
from onestop.vault import FIELDS, HOW_TO, VaultKey

log = structlog.get_logger("onestop.access")

#: Commands that touch the vault; their arguments are never recorded on the event.
VAULT_COMMANDS = frozenset({"correct_personal_data", "erase_personal_data"})
_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def new_ref() -> str:
    """A fresh vault reference: random, so that once its row is erased it points at nothing."""
    return "pd_" + secrets.token_hex(12)


class Authority:
    """The engine's gate: resolves the actor, authorizes commands and queries, keeps the
    applicant's data in the vault, scopes idempotency keys (see the module docstring).

    Args:
        policy: The access policy (in directory mode, default :class:`OneStopPolicy`).
        units: The unit set.
        directory: Enforce the staff directory.
        vault: The vault key (``None``: personal data is refused, and not shown).
    """

    def __init__(
        self, policy: Policy | None, units: Units, *, directory: bool, vault: VaultKey | None
    ) -> None:
        self.directory = directory
        self.policy: Policy | None = policy or (OneStopPolicy() if directory else None)
        self.units = units
        self.vault = vault

    # -- who acts ----------------------------------------------------------------------------

    def actor(self, uow: UnitOfWork, given: str | Actor | None, now: datetime) -> Actor | None:
        """The acting user as the directory knows them at ``now`` (embedded: the caller's
        Actor, or ``None``).

        Raises:
            Forbidden: In directory mode, if no user is named, or the caller's Actor claims
                other roles or another agency than the directory gives.
        """
        if not self.directory:
            return given if isinstance(given, Actor) else None
        if given is None:
            raise self._refuse(
                None,
                "any",
                None,
                "this engine enforces its staff directory: name the acting user (actor=...)",
            )
        user = given.user_id if isinstance(given, Actor) else given
        officer = officer_at(uow, user, now)
        if officer is None:
            found = Actor(user_id=user, roles=frozenset({"applicant"}))
        else:
            found = Actor(user_id=user, agency=officer.agency, roles=frozenset(officer.roles))
        if isinstance(given, Actor) and (given.roles, given.agency) != (found.roles, found.agency):
            raise self._refuse(
                user,
                "any",
                None,
                f"{user}: the staff directory gives roles {sorted(found.roles)} at "
                f"{found.agency} on {now.isoformat()}, not the claimed {sorted(given.roles)} "
                f"at {given.agency}",
                staff=officer is not None,
            )
        return found

    def owner(self, uow: UnitOfWork, actor: Actor | None, row: Mapping[str, Any]) -> bool:
        """Whether ``actor`` is the dossier's applicant (their account is on its vault row)."""
        ref = row.get("applicant_ref")
        if actor is None or "applicant" not in actor.roles or ref is None or self.vault is None:
            return False
        held = load_row(uow, ref)
        return held is not None and held["account_index"] == self._account(actor.user_id)

    def recorded_actor(
        self, actor: Actor | None, given: str | Actor | None, ref: str | None
    ) -> str | None:
        """Who the event names: the user id, or for an applicant the vault reference (their
        account may be their citizen ID number, which must not enter the chain)."""
        if actor is not None and actor.agency is None and "applicant" in actor.roles and ref:
            return f"applicant:{ref}"
        if actor is not None:
            return actor.user_id
        return given.user_id if isinstance(given, Actor) else given

    # -- commands ----------------------------------------------------------------------------

    def check(
        self,
        actor: Actor | None,
        command: str,
        row: Mapping[str, Any],
        *,
        owner: bool = False,
        units: Units | None = None,
    ) -> dict[str, Any]:
        """Authorize a command; returns what the event records about who acted (a rating by
        the desk is marked as recorded on the applicant's behalf).

        Raises:
            Forbidden: If the policy refuses (logged; nothing was written).
        """
        if self.policy is None:
            return {}
        if actor is None:
            raise self._refuse(
                None,
                command,
                row.get("id"),
                f"{command}: this engine requires an Actor for every command",
            )
        try:
            self.policy.check(actor, command, row, units or self.units, owner=owner)
        except Forbidden as exc:
            staff = actor.agency is not None
            raise self._refuse(
                actor.user_id, command, row.get("id"), str(exc), staff=staff
            ) from None
        if command == "rate":
            return (
                {"rated_by": "applicant"}
                if owner
                else {"rated_by": "desk", "on_behalf_of_applicant": True}
            )
        return {}

    # -- queries -----------------------------------------------------------------------------

    def see(
        self, uow: UnitOfWork, actor: Actor | None, row: Mapping[str, Any], owner: bool
    ) -> None:
        """Authorize reading one dossier (directory mode; embedded reads are not checked).

        Raises:
            Forbidden: If the actor may not see it (logged).
        """
        if not self.directory or self.policy is None:
            return
        assert actor is not None  # resolved by actor() in directory mode
        if self.policy.may_see(actor, row, self.units, owner=owner):
            return
        if actor.agency is not None:
            held = step_agencies(uow, row["id"])
            if self.policy.may_see(actor, row, self.units, owner=owner, step_agencies=held):
                return
        raise self._refuse(
            actor.user_id,
            "read",
            row.get("id"),
            f"{actor.user_id} may not see dossier {row.get('id')}",
            staff=actor.agency is not None,
        )

    def visibility(self, actor: Actor | None) -> Visible | None:
        """The filter of a list query for ``actor`` (``None``: everything, embedded mode)."""
        if not self.directory or self.policy is None:
            return None
        assert actor is not None
        if actor.agency is None:
            owner = self._account(actor.user_id) if self.vault is not None else None
            return Visible(owner_index=owner)
        return Visible(self.policy.visible_units(actor, self.units), actor.agency)

    def view(
        self, uow: UnitOfWork, actor: Actor | None, row: Mapping[str, Any], owner: bool
    ) -> Dossier:
        """The dossier as ``actor`` may read it: with the applicant's data decrypted from the
        vault when their role may read it (embedded: always, given the vault key)."""
        dossier = Dossier.from_row(dict(row))
        ref = row.get("applicant_ref")
        if ref is None or self.vault is None:
            return dossier
        if self.directory and self.policy is not None:
            assert actor is not None
            if not self.policy.sees_personal_data(actor, owner=owner):
                return dossier
        held = load_row(uow, ref)
        if held is None:
            return dossier
        plain: dict[str, Any] = {f"applicant_{f}": self._open(ref, f, held[f]) for f in FIELDS}
        return replace(dossier, **plain)

    # -- the vault ---------------------------------------------------------------------------

    def new_applicant(
        self, applicant: Applicant | None, account: str | None
    ) -> tuple[str, dict[str, Any]] | None:
        """A vault reference and the sealed row of a new dossier's applicant (``None`` when
        there is neither data nor an account to keep); the row still needs ``dossier_id`` and
        times.

        Raises:
            VaultKeyError: If there is data to keep and no vault key.
        """
        given = {} if applicant is None else applicant.model_dump(exclude={"account"})
        given = {k: v for k, v in given.items() if v is not None}
        account = account or (applicant.account if applicant is not None else None)
        if not given and account is None:
            return None
        key = self._key()
        ref = new_ref()
        sealed: dict[str, Any] = {f: None for f in FIELDS}
        sealed.update({f: key.seal(ref, f, v) for f, v in given.items()})
        return ref, {
            **sealed,
            "ref": ref,
            "key_id": key.key_id,
            "id_index": self._id_index(given.get("id_number")),
            "account_index": None if account is None else self._account(account),
        }

    def apply(
        self, uow: UnitOfWork, command: str, row: Mapping[str, Any], args: Any, now: datetime
    ) -> dict[str, Any]:
        """Do a vault command's work on the vault (correct or erase); returns the dossier
        columns it sets (a correction of a dossier without a vault row gives it one).

        Raises:
            ValidationError: If there is nothing to erase.
            VaultKeyError: If there is no vault key.
        """
        ref = row.get("applicant_ref")
        held = None if ref is None else load_row(uow, ref)
        if command == "erase_personal_data":
            if held is None or ref is None:
                raise ValidationError(
                    "dossier",
                    f"dossier {row['id']} holds no personal data "
                    "(none was given, or it was erased)",
                )
            erase_row(uow, ref, row["id"])
            return {}
        assert isinstance(args, Correction)
        key = self._key()
        given = {k: v for k, v in args.model_dump().items() if v is not None}
        if held is None or ref is None:
            created = self.new_applicant(Applicant(**given), None)
            assert created is not None
            ref, values = created
            insert_row(
                uow, {**values, "dossier_id": row["id"], "created_at": now, "updated_at": now}
            )
            return {"applicant_ref": ref}
        values = {f: key.seal(ref, f, v) for f, v in given.items()}
        if "id_number" in given:
            values["id_index"] = self._id_index(given["id_number"])
        values["key_id"] = key.key_id
        update_row(uow, ref, values, now)
        return {}

    def insert_applicant(
        self, uow: UnitOfWork, values: Mapping[str, Any], dossier_id: int, now: datetime
    ) -> None:
        """Store a new dossier's vault row (from :meth:`new_applicant`)."""
        insert_row(uow, {**values, "dossier_id": dossier_id, "created_at": now, "updated_at": now})

    def id_index(self, id_number: str) -> str:
        """The blind index of a citizen ID number (look-up without decryption).

        Raises:
            VaultKeyError: If there is no vault key.
        """
        self._key()
        found = self._id_index(id_number)
        assert found is not None
        return found

    # -- idempotency -------------------------------------------------------------------------

    def scoped_key(
        self,
        actor: Actor | None,
        given: str | Actor | None,
        command: str,
        dossier_id: int | None,
        key: str,
    ) -> str:
        """The stored form of a caller's idempotency key: a keyed digest of (user, command,
        dossier, key), so the same key of another user, command or dossier is another key."""
        user = self.recorded_actor(actor, given, None) or ""
        scope = "\x1f".join((user, command, "new" if dossier_id is None else str(dossier_id), key))
        return self._digest("idempotency", scope)

    def args_digest(self, args: Mapping[str, Any]) -> str:
        """A keyed digest of a command's arguments (they may hold personal data)."""
        return self._digest("arguments", _JSON.encode(to_json(dict(args))))

    # -- internals ---------------------------------------------------------------------------

    def _key(self) -> VaultKey:
        if self.vault is None:
            raise VaultKeyError(f"personal data given but this engine has no vault key: {HOW_TO}")
        return self.vault

    def _open(self, ref: str, name: str, sealed: str | None) -> str | None:
        return None if sealed is None else self._key().open(ref, name, sealed)

    def _account(self, user_id: str) -> str:
        return self._key().index("account", user_id)

    def _id_index(self, id_number: str | None) -> str | None:
        return None if id_number is None else self._key().index("id_number", id_number)

    def _digest(self, kind: str, text: str) -> str:
        if self.vault is not None:
            return self.vault.index(kind, text)
        # Without a vault key the engine holds no personal data to protect.
        return hashlib.sha256(f"{kind}\x00{text}".encode()).hexdigest()

    @staticmethod
    def _refuse(
        user: str | None, command: str, dossier_id: Any, reason: str, *, staff: bool = True
    ) -> Forbidden:
        """Log a refusal and return the error to raise. An applicant's account may be their
        citizen ID number or phone: the log names them "applicant", never by account."""
        logged = reason
        if user is not None and not staff:
            logged, user = reason.replace(user, "<applicant>"), "<applicant>"
        log.warning(
            "dossier.forbidden", command=command, user=user, dossier_id=dossier_id, reason=logged
        )
        return Forbidden(reason)
