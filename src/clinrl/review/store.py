"""The review database: reviewers, sessions, rubric drafts under review, adjudication labels.

Concurrency: every rubric row carries a ``version``; an edit or a decision names the version the
reviewer opened, and the write is ``UPDATE … WHERE version = :opened``. If someone else saved in the
meantime, nothing is overwritten and :class:`EditConflict` says who changed it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import (Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint, create_engine,
                        func, select, update)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from clinrl.errors import ClinrlError
from clinrl.rubrics.schema import Rubric

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
SESSION_DAYS = 7
#: PBKDF2-HMAC-SHA256 iterations for new password hashes: OWASP's current figure for this hash. Older
#: hashes keep verifying (the count is stored in each hash) and are re-hashed at this count on the next login.
PASSWORD_ITERATIONS = 600_000
#: ids are 64-bit integers in every database; a larger number cannot name a row (and SQLite refuses to bind it)
MAX_ROW_ID = 2**63 - 1
_DUMMY_SALT = bytes(16)


class ReviewError(ClinrlError):
    """A review action that cannot be done (unknown rubric, bad credentials, invalid edit)."""


class DuplicateItem(ReviewError):
    """The same response to the same rubric is already queued for adjudication."""


class EditConflict(ReviewError):
    """The rubric changed since the reviewer opened it; nothing was written."""


class Base(DeclarativeBase):
    pass


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Reviewer(Base):
    __tablename__ = "reviewers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


class LoginSession(Base):
    __tablename__ = "sessions"
    token: Mapped[str] = mapped_column(String(80), primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"))
    expires: Mapped[dt.datetime] = mapped_column(DateTime)


class RubricDraft(Base):
    __tablename__ = "rubric_drafts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rubric_id: Mapped[str] = mapped_column(String(200), unique=True)
    round: Mapped[int] = mapped_column(Integer, default=1)
    original_json: Mapped[str] = mapped_column(Text)   # the LLM draft, never modified
    current_json: Mapped[str] = mapped_column(Text)    # after the reviewer's edits
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    reason: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    last_editor_id: Mapped[int | None] = mapped_column(ForeignKey("reviewers.id"), nullable=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("reviewers.id"), nullable=True)
    opened_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    seconds_spent: Mapped[float] = mapped_column(Float, default=0.0)


class AdjudicationItem(Base):
    """A response to be labelled criterion by criterion; ``model`` is never shown to reviewers."""

    __tablename__ = "adjudication_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    anon_id: Mapped[str] = mapped_column(String(40), unique=True)
    rubric_json: Mapped[str] = mapped_column(Text)
    response: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(200))
    first_reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"))
    second_reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"))
    third_reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("reviewers.id"), nullable=True)


class AdjudicationLabel(Base):
    __tablename__ = "adjudication_labels"
    __table_args__ = (UniqueConstraint("item_id", "reviewer_id", "criterion_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("adjudication_items.id"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"))
    criterion_id: Mapped[str] = mapped_column(String(200))
    met: Mapped[bool] = mapped_column(Boolean)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


def hash_password(password: str, *, salt: bytes | None = None, iterations: int | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    iterations = iterations or PASSWORD_ITERATIONS
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def hash_iterations(stored: str) -> int:
    """The PBKDF2 iteration count recorded in a stored hash (0 when the hash is malformed)."""
    try:
        return int(stored.split("$")[1])
    except (IndexError, ValueError):
        return 0


def verify_password(password: str, stored: str) -> bool:
    try:
        _, iterations, salt_hex, digest_hex = stored.split("$")
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt_hex), int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest.hex(), digest_hex)


def _spend_hashing(password: str, done: int) -> None:
    """Top a failed check up to a full-strength hash, so that a wrong password costs the same work whether the
    user exists, has an older (cheaper) hash or a malformed one: response time tells nothing about user names."""
    missing = PASSWORD_ITERATIONS - done
    if missing > 0:
        hashlib.pbkdf2_hmac("sha256", password.encode(), _DUMMY_SALT, missing)


def conflict_message(rubric_id: str, editor: str | None, opened: int, now: int) -> str:
    return (f"rubric {rubric_id!r} was changed by {editor or 'someone else'} after you opened it (your version "
            f"{opened}, now {now}); reload to see their changes")


def _check_row_id(row_id: int, what: str) -> None:
    if not isinstance(row_id, int) or isinstance(row_id, bool) or not 1 <= row_id <= MAX_ROW_ID:
        raise ReviewError(f"no {what} {row_id}")


@dataclass(frozen=True)
class DraftView:
    """What the UI shows for one rubric under review."""

    id: int
    rubric_id: str
    round: int
    status: str
    reason: str
    version: int
    rubric: Rubric
    original: Rubric
    last_editor: str | None


class ReviewStore:
    """All database access of the review app. ``url`` is any SQLAlchemy URL (default SQLite file)."""

    def __init__(self, url: str) -> None:
        connect_args = {"check_same_thread": False} if url.startswith("sqlite") else {}
        self.engine = create_engine(url, connect_args=connect_args)
        Base.metadata.create_all(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    # -- reviewers and logins --------------------------------------------------------------------
    def add_reviewer(self, username: str, password: str, *, admin: bool = False) -> int:
        if not username.strip() or len(password) < 8:
            raise ReviewError("a reviewer needs a user name and a password of at least 8 characters")
        with self.sessions.begin() as db:
            if db.scalar(select(Reviewer).where(Reviewer.username == username)):
                raise ReviewError(f"reviewer {username!r} already exists")
            reviewer = Reviewer(username=username, password_hash=hash_password(password), is_admin=admin)
            db.add(reviewer)
            db.flush()
            return reviewer.id

    def login(self, username: str, password: str) -> str | None:
        """A new session token, or None. Every failure costs one full-strength hash (see ``_spend_hashing``)."""
        with self.sessions.begin() as db:
            reviewer = db.scalar(select(Reviewer).where(Reviewer.username == username))
            if reviewer is None:
                _spend_hashing(password, 0)
                return None
            iterations = hash_iterations(reviewer.password_hash)
            if not verify_password(password, reviewer.password_hash):
                _spend_hashing(password, iterations)
                return None
            if iterations < PASSWORD_ITERATIONS:  # an older, cheaper hash: upgrade it now that we know the password
                reviewer.password_hash = hash_password(password)
            token = secrets.token_urlsafe(32)
            db.add(LoginSession(token=token, reviewer_id=reviewer.id,
                                expires=_now() + dt.timedelta(days=SESSION_DAYS)))
            return token

    def logout(self, token: str) -> None:
        with self.sessions.begin() as db:
            session = db.get(LoginSession, token)
            if session is not None:
                db.delete(session)

    def reviewer_for(self, token: str | None) -> Reviewer | None:
        if not token:
            return None
        with self.sessions() as db:
            session = db.get(LoginSession, token)
            if session is None or session.expires < _now():
                return None
            return db.get(Reviewer, session.reviewer_id)

    def reviewer_id(self, username: str) -> int:
        with self.sessions() as db:
            reviewer = db.scalar(select(Reviewer).where(Reviewer.username == username))
            if reviewer is None:
                raise ReviewError(f"no reviewer {username!r}")
            return reviewer.id

    # -- rubric drafts -----------------------------------------------------------------------------
    def add_drafts(self, rubrics: Iterable[Rubric], *, round: int = 1) -> int:
        """Queue rubrics for review; a rubric id already in the database is an error (nothing is replaced)."""
        if isinstance(round, bool) or not isinstance(round, int) or not 1 <= round <= MAX_ROW_ID:
            raise ReviewError(f"round must be a whole number from 1 to {MAX_ROW_ID}, got {round!r}")
        added, ids = 0, []
        try:
            with self.sessions.begin() as db:
                for rubric in rubrics:
                    rubric.validate()
                    if db.scalar(select(RubricDraft.id).where(RubricDraft.rubric_id == rubric.id)):
                        raise ReviewError(f"rubric {rubric.id!r} is already in the review database")
                    text = json.dumps(rubric.to_dict(), ensure_ascii=False, sort_keys=True)
                    db.add(RubricDraft(rubric_id=rubric.id, round=round, original_json=text, current_json=text))
                    ids.append(rubric.id)
                    added += 1
        except IntegrityError:
            # another writer (a second `review import` of the same file, an upload) queued one of these ids between
            # the check above and the commit; the unique index refused it and nothing of this batch was kept
            with self.sessions() as db:
                taken = sorted(set(db.scalars(select(RubricDraft.rubric_id).where(RubricDraft.rubric_id.in_(ids)))))
            which = f"rubric {taken[0]!r}" + (f" (and {len(taken) - 1} more)" if len(taken) > 1 else "") \
                if taken else "a rubric of this file"
            raise ReviewError(f"{which} is already in the review database (queued by another import at the same "
                              "time); nothing from this file was added") from None
        return added

    def _view(self, db: Session, row: RubricDraft) -> DraftView:
        editor = db.get(Reviewer, row.last_editor_id) if row.last_editor_id else None
        return DraftView(id=row.id, rubric_id=row.rubric_id, round=row.round, status=row.status, reason=row.reason,
                         version=row.version, rubric=Rubric.from_dict(json.loads(row.current_json), validate=False),
                         original=Rubric.from_dict(json.loads(row.original_json), validate=False),
                         last_editor=editor.username if editor else None)

    def queue(self, *, status: str | None = PENDING, round: int | None = None) -> list[DraftView]:
        with self.sessions() as db:
            query = select(RubricDraft).order_by(RubricDraft.round, RubricDraft.id)
            if status:
                query = query.where(RubricDraft.status == status)
            if round is not None:
                query = query.where(RubricDraft.round == round)
            return [self._view(db, row) for row in db.scalars(query)]

    def get(self, draft_id: int) -> DraftView:
        _check_row_id(draft_id, "rubric draft")
        with self.sessions() as db:
            row = db.get(RubricDraft, draft_id)
            if row is None:
                raise ReviewError(f"no rubric draft {draft_id}")
            return self._view(db, row)

    def mark_opened(self, draft_id: int) -> None:
        _check_row_id(draft_id, "rubric draft")
        with self.sessions.begin() as db:
            row = db.get(RubricDraft, draft_id)
            if row is not None and row.opened_at is None:
                row.opened_at = _now()

    def _write(self, db: Session, draft_id: int, opened_version: int, values: dict[str, Any]) -> None:
        _check_row_id(draft_id, "rubric draft")
        if not isinstance(opened_version, int) or not 0 <= opened_version <= MAX_ROW_ID:
            raise ReviewError(f"version must be a whole number between 0 and {MAX_ROW_ID}, got {opened_version!r}")
        result = db.execute(update(RubricDraft)
                            .where(RubricDraft.id == draft_id, RubricDraft.version == opened_version)
                            .values(version=RubricDraft.version + 1, **values))
        if result.rowcount != 1:
            row = db.get(RubricDraft, draft_id)
            if row is None:
                raise ReviewError(f"no rubric draft {draft_id}")
            editor = db.get(Reviewer, row.last_editor_id) if row.last_editor_id else None
            raise EditConflict(conflict_message(row.rubric_id, editor.username if editor else None, opened_version,
                                                row.version))

    def save_edit(self, draft_id: int, rubric: Rubric, *, opened_version: int, reviewer_id: int) -> int:
        """Store an edited rubric (validated) if nobody saved since ``opened_version``; returns the new version."""
        rubric.validate()
        text = json.dumps(rubric.to_dict(), ensure_ascii=False, sort_keys=True)
        with self.sessions.begin() as db:
            self._write(db, draft_id, opened_version, {"current_json": text, "last_editor_id": reviewer_id})
        return opened_version + 1

    def decide(self, draft_id: int, decision: str, *, opened_version: int, reviewer_id: int, reason: str = "") -> None:
        if decision not in (APPROVED, REJECTED):
            raise ReviewError(f"decision must be {APPROVED} or {REJECTED}")
        if decision == REJECTED and not reason.strip():
            raise ReviewError("a rejection needs a reason")
        _check_row_id(draft_id, "rubric draft")
        with self.sessions.begin() as db:
            row = db.get(RubricDraft, draft_id)
            if row is None:
                raise ReviewError(f"no rubric draft {draft_id}")
            if decision == APPROVED:
                Rubric.from_dict(json.loads(row.current_json))  # only valid rubrics are approved
            now = _now()
            spent = (now - row.opened_at).total_seconds() if row.opened_at else 0.0
            self._write(db, draft_id, opened_version, {
                "status": decision, "reason": reason.strip(), "decided_by_id": reviewer_id, "decided_at": now,
                "seconds_spent": spent, "last_editor_id": reviewer_id})

    def fewshot_pool(self, *, limit: int | None = None) -> list[Rubric]:
        """Approved rubrics, newest first: the dynamic few-shot pool of the rubric drafter."""
        with self.sessions() as db:
            query = (select(RubricDraft).where(RubricDraft.status == APPROVED)
                     .order_by(RubricDraft.decided_at.desc(), RubricDraft.id.desc()))
            if limit:
                query = query.limit(limit)
            return [Rubric.from_dict(json.loads(row.current_json)) for row in db.scalars(query)]

    def rounds(self) -> list[int]:
        with self.sessions() as db:
            return sorted(set(db.scalars(select(RubricDraft.round))))

    def round_rows(self, round: int | None = None) -> list[dict[str, Any]]:
        with self.sessions() as db:
            query = select(RubricDraft)
            if round is not None:
                query = query.where(RubricDraft.round == round)
            return [{"round": r.round, "status": r.status, "original": json.loads(r.original_json),
                     "current": json.loads(r.current_json), "seconds_spent": r.seconds_spent}
                    for r in db.scalars(query)]

    def count(self) -> int:
        with self.sessions() as db:
            return int(db.scalar(select(func.count(RubricDraft.id))) or 0)

    # -- double-blind adjudication -------------------------------------------------------------------
    def add_adjudication_item(self, rubric: Rubric, response: str, model: str, *, first: str, second: str,
                              third: str | None = None) -> str:
        """Queue a response for two independent reviewers; returns its anonymous id."""
        rubric.validate()
        ids = [self.reviewer_id(first), self.reviewer_id(second)]
        if ids[0] == ids[1]:
            raise ReviewError("the two adjudicators must be different reviewers")
        third_id = self.reviewer_id(third) if third else None
        if third_id is not None and third_id in ids:
            raise ReviewError("the third reviewer must differ from the first two")
        anon = "r-" + secrets.token_hex(6)
        with self.sessions.begin() as db:
            # queuing a file twice would double-count its items in the benchmark and in κ
            same = db.scalars(select(AdjudicationItem.rubric_json).where(
                AdjudicationItem.response == response, AdjudicationItem.model == model))
            if any(json.loads(text).get("id") == rubric.id for text in same):
                raise DuplicateItem(f"the response of {model!r} to rubric {rubric.id!r} is already queued")
            db.add(AdjudicationItem(anon_id=anon, rubric_json=json.dumps(rubric.to_dict(), sort_keys=True),
                                    response=response, model=model, first_reviewer_id=ids[0],
                                    second_reviewer_id=ids[1], third_reviewer_id=third_id))
        return anon

    def _disagreements(self, db: Session, item: AdjudicationItem) -> list[str]:
        labels = {}
        for label in db.scalars(select(AdjudicationLabel).where(AdjudicationLabel.item_id == item.id)):
            labels.setdefault(label.criterion_id, {})[label.reviewer_id] = label.met
        out = []
        for criterion, by in labels.items():
            a, b = by.get(item.first_reviewer_id), by.get(item.second_reviewer_id)
            if a is not None and b is not None and a != b:
                out.append(criterion)
        return sorted(out)

    def adjudication_queue(self, reviewer_id: int) -> list[dict[str, Any]]:
        """Items this reviewer must label — anonymised: no model name, no other reviewer's labels.

        A third reviewer sees an item only for the criteria on which the first two disagree.
        """
        out = []
        with self.sessions() as db:
            for item in db.scalars(select(AdjudicationItem).order_by(AdjudicationItem.id)):
                rubric = Rubric.from_dict(json.loads(item.rubric_json), validate=False)
                if reviewer_id in (item.first_reviewer_id, item.second_reviewer_id):
                    criteria = [it.id for it in rubric.items]
                elif reviewer_id == item.third_reviewer_id:
                    criteria = self._disagreements(db, item)
                    if not criteria:
                        continue
                else:
                    continue
                mine = {lab.criterion_id: lab.met for lab in db.scalars(
                    select(AdjudicationLabel).where(AdjudicationLabel.item_id == item.id,
                                                    AdjudicationLabel.reviewer_id == reviewer_id))}
                out.append({"id": item.anon_id, "instruction": rubric.instruction, "response": item.response,
                            "criteria": [{"id": it.id, "text": it.text, "dimension": it.dimension}
                                         for it in rubric.items if it.id in criteria],
                            "my_labels": mine})
        return out

    def label(self, anon_id: str, reviewer_id: int, labels: dict[str, bool]) -> None:
        """Record this reviewer's own criterion labels (a reviewer may revise only their own)."""
        with self.sessions.begin() as db:
            item = db.scalar(select(AdjudicationItem).where(AdjudicationItem.anon_id == anon_id))
            if item is None:
                raise ReviewError(f"no adjudication item {anon_id!r}")
            rubric = Rubric.from_dict(json.loads(item.rubric_json), validate=False)
            allowed = {it.id for it in rubric.items}
            if reviewer_id == item.third_reviewer_id:
                allowed = set(self._disagreements(db, item))
            elif reviewer_id not in (item.first_reviewer_id, item.second_reviewer_id):
                raise ReviewError("this item is not assigned to you")
            for criterion, met in labels.items():
                if criterion not in allowed:
                    raise ReviewError(f"criterion {criterion!r} is not yours to label on {anon_id}")
                if not isinstance(met, bool):
                    raise ReviewError(f"label for {criterion!r} must be true or false")
                existing = db.scalar(select(AdjudicationLabel).where(
                    AdjudicationLabel.item_id == item.id, AdjudicationLabel.reviewer_id == reviewer_id,
                    AdjudicationLabel.criterion_id == criterion))
                if existing is None:
                    db.add(AdjudicationLabel(item_id=item.id, reviewer_id=reviewer_id, criterion_id=criterion, met=met))
                else:
                    existing.met = met

    def adjudication_export(self) -> list[dict[str, Any]]:
        """Final labels per item and criterion (admin / export only: includes the model name).

        Agreement of the first two reviewers decides; a disagreement is decided by the third reviewer,
        and stays ``None`` (unresolved) until they label it.
        """
        rows = []
        with self.sessions() as db:
            for item in db.scalars(select(AdjudicationItem).order_by(AdjudicationItem.id)):
                rubric = Rubric.from_dict(json.loads(item.rubric_json), validate=False)
                by: dict[str, dict[int, bool]] = {}
                for lab in db.scalars(select(AdjudicationLabel).where(AdjudicationLabel.item_id == item.id)):
                    by.setdefault(lab.criterion_id, {})[lab.reviewer_id] = lab.met
                first, second, final = {}, {}, {}
                for it in rubric.items:
                    a = by.get(it.id, {}).get(item.first_reviewer_id)
                    b = by.get(it.id, {}).get(item.second_reviewer_id)
                    first[it.id], second[it.id] = a, b
                    if a is not None and a == b:
                        final[it.id] = a
                    elif a is not None and b is not None and item.third_reviewer_id is not None:
                        final[it.id] = by.get(it.id, {}).get(item.third_reviewer_id)
                    else:
                        final[it.id] = None
                rows.append({"id": item.anon_id, "model": item.model, "rubric": rubric.to_dict(),
                             "response": item.response, "first": first, "second": second, "labels": final})
        return rows
