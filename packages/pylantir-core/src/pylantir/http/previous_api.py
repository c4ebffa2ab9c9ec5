"""The previous Pylantir's HTTP API (its ``pylantir start-api``), answered as it answered, so that sites'
scripts keep working: ``POST /auth/login``, ``GET/POST /worklist``, ``PUT/DELETE /worklist/{id}``,
``GET/POST /users``, ``PUT/DELETE /users/{id}`` (``GET /health`` is :mod:`pylantir.http.system`'s, same shape).

Same paths, bodies, field names (``performed_procedure_step_status`` with ``IN_PROGRESS``, ``study_description``,
``patient_weight_lb``, ``data_source``), roles and status codes; behind them the current service: its
users and sessions (the login's ``access_token`` is a session token, valid as ``Authorization: Bearer``;
``access_token_expire_minutes`` as there, default 30), the walk-in pipeline for new items, the audit. Where
the previous API could damage the worklist it answers the same shape but keeps the data: ``DELETE`` of a
synced item cancels it (DISCONTINUED, kept, so the next sync does not bring it back) instead of deleting it,
and ``PUT`` changes a synced item's status only (its other fields belong to its source).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from pylantir import audit
from pylantir.accounts import AccountError, Role, add_user, list_users, parse_role, set_password
from pylantir.http.auth import Admin, Reader, Writer
from pylantir.http.login import LoginRefused, log_in
from pylantir.http.services import ServicesDep
from pylantir.http.walkin import MANUAL_SOURCE, UNPROCESSABLE, WalkInError, cancel_item, create_manual, update_manual
from pylantir.store import User, WorklistItem
from pylantir.store.models import utcnow
from pylantir.sync.clock import as_utc

router = APIRouter(tags=["previous Pylantir API"])
#: The previous API's lifetime of an access token, in minutes.
PREVIOUS_TOKEN_MINUTES = 30
#: Its status names -> ours (IN_PROGRESS is a step an MPPS started).
TO_STATUS = {"SCHEDULED": "SCHEDULED", "IN_PROGRESS": "STARTED", "COMPLETED": "COMPLETED",
             "DISCONTINUED": "DISCONTINUED"}
FROM_STATUS = {ours: theirs for theirs, ours in TO_STATUS.items()}
#: Its item fields -> ours (the rest have the same names).
FIELD_NAMES = {"study_description": "requested_procedure_description",
               "performed_procedure_step_status": "scheduled_procedure_step_status"}
ITEM_FIELDS = ("study_instance_uid", "patient_name", "patient_id", "patient_birth_date", "patient_sex",
               "accession_number", "referring_physician_name", "modality", "study_description",
               "scheduled_station_aetitle", "scheduled_start_date", "scheduled_start_time", "performing_physician",
               "procedure_description", "protocol_name", "station_name")
POUNDS_PER_KG = 2.20462262


class LoginRequest(BaseModel):
    """The previous login body."""

    username: str
    password: str
    access_token_expire_minutes: int | None = None


class PreviousItem(BaseModel):
    """An item body of ``POST /worklist`` / ``PUT /worklist/{id}`` (unknown fields ignored, as there)."""

    model_config = ConfigDict(extra="ignore")

    study_instance_uid: str | None = None
    patient_name: str | None = None
    patient_id: str | None = None
    patient_birth_date: str | None = None
    patient_sex: str | None = None
    patient_weight_lb: str | float | None = None
    accession_number: str | None = None
    referring_physician_name: str | None = None
    modality: str | None = None
    study_description: str | None = None
    scheduled_station_aetitle: str | None = None
    scheduled_start_date: str | None = None
    scheduled_start_time: str | None = None
    performing_physician: str | None = None
    procedure_description: str | None = None
    protocol_name: str | None = None
    station_name: str | None = None
    performed_procedure_step_status: str | None = None
    data_source: str | None = None
    source_record_id: str | None = None


class PreviousUser(BaseModel):
    """A user body of ``POST /users`` / ``PUT /users/{id}`` (``email``, ``full_name``: accepted, not kept)."""

    model_config = ConfigDict(extra="ignore")

    username: str | None = None
    password: str | None = None
    role: str | None = None
    email: str | None = None
    full_name: str | None = None
    is_active: bool | None = None


def item_json(item: WorklistItem) -> dict[str, Any]:
    """An item in the previous API's shape."""
    answer: dict[str, Any] = {"id": item.id}
    for name in ITEM_FIELDS:
        answer[name] = getattr(item, FIELD_NAMES.get(name, name))
    weight = item.patient_weight_kg
    answer["patient_weight_lb"] = None if weight is None else f"{weight * POUNDS_PER_KG:g}"
    answer["performed_procedure_step_status"] = FROM_STATUS.get(item.scheduled_procedure_step_status,
                                                                item.scheduled_procedure_step_status)
    answer["data_source"] = item.source_name
    answer["source_record_id"] = item.source_key
    return answer


def _status(value: str) -> str:
    if value not in TO_STATUS:
        raise HTTPException(UNPROCESSABLE, f"Status must be one of: {list(TO_STATUS)}")
    return TO_STATUS[value]


def _entry(body: PreviousItem) -> dict[str, Any]:
    """The body as worklist fields of ours (the mapping names the previous ones alias)."""
    given = body.model_dump(exclude_unset=True, exclude={"data_source", "source_record_id"})
    return {name: value for name, value in given.items() if name != "performed_procedure_step_status"}


@router.post("/auth/login")
def previous_login(credentials: LoginRequest, request: Request, services: ServicesDep) -> dict[str, str]:
    """Log in: ``{"access_token", "token_type": "bearer"}`` (a session token; send it as a Bearer token)."""
    minutes = credentials.access_token_expire_minutes or PREVIOUS_TOKEN_MINUTES
    if minutes <= 0:
        raise HTTPException(UNPROCESSABLE, "access_token_expire_minutes must be a positive integer")
    try:
        grant = log_in(services, credentials.username, credentials.password,
                       request.client.host if request.client else None, hours=minutes / 60)
    except LoginRefused as exc:
        if exc.retry_after:
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc),
                                headers={"Retry-After": str(exc.retry_after)}) from None
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid username or password",
                            headers={"WWW-Authenticate": "Bearer"}) from None
    return {"access_token": grant.token, "token_type": "bearer"}


@router.get("/worklist")
def previous_worklist(
    who: Reader, services: ServicesDep,
    status_: Annotated[list[str], Query(alias="status")] = ["SCHEDULED", "IN_PROGRESS"],  # noqa: B006 - FastAPI copies it
    limit: Annotated[int, Query(le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    patient_id: str | None = None,
    modality: str | None = None,
) -> list[dict[str, Any]]:
    """Items by status (default SCHEDULED and IN_PROGRESS), ``patient_id`` containing the text (any case),
    exact ``modality``; ``limit``/``offset``, by ID as there."""
    query = select(WorklistItem).order_by(WorklistItem.id)
    if status_:
        query = query.where(WorklistItem.scheduled_procedure_step_status.in_([_status(value) for value in status_]))
    if patient_id:
        query = query.where(func.lower(WorklistItem.patient_id).contains(patient_id.lower(), autoescape=True))
    if modality:
        query = query.where(WorklistItem.modality == modality)
    with services.database.session() as session:
        return [item_json(item) for item in session.scalars(query.offset(offset).limit(limit))]


def _walk_in(exc: WalkInError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


def _get(services: ServicesDep, item_id: int) -> dict[str, Any]:
    with services.database.session() as session:
        item = session.get(WorklistItem, item_id)
        if item is None:
            raise HTTPException(404, f"Worklist item {item_id} not found")
        return item_json(item)


@router.post("/worklist")
def previous_create(body: PreviousItem, who: Writer, services: ServicesDep) -> dict[str, Any]:
    """A new item, through the walk-in pipeline (a manual entry); the previous answer's shape."""
    entry = _entry(body)
    wanted = body.performed_procedure_step_status
    if wanted is not None:
        entry["scheduled_procedure_step_status"] = _status(wanted)
    try:
        item_id = services.database.submit_write(create_manual, services, entry, who).result()
    except WalkInError as exc:
        raise _walk_in(exc) from None
    return _get(services, item_id)


def _set_status(services: ServicesDep, item_id: int, new_status: str, who: Any) -> None:
    with services.database.session() as session:
        item = session.get(WorklistItem, item_id)
        if item is None:
            raise HTTPException(404, f"Worklist item {item_id} not found")
        old = item.scheduled_procedure_step_status
        if old != new_status:
            item.scheduled_procedure_step_status, item.status_from_mpps, item.updated_at = new_status, True, utcnow()
            audit.record(session, actor=who.actor, action="worklist.status", target=f"worklist_item:{item_id}",
                         changes={"scheduled_procedure_step_status": [old, new_status]},
                         remote_address=who.remote_address)


@router.put("/worklist/{item_id}")
def previous_update(item_id: int, body: PreviousItem, who: Writer, services: ServicesDep) -> dict[str, Any]:
    """Change an item: any field of a manual entry; a synced item's status only (kept against syncs)."""
    current = _get(services, item_id)
    entry = _entry(body)
    if entry:
        if current["data_source"] != MANUAL_SOURCE:
            raise HTTPException(409, f"Worklist item {item_id} comes from source '{current['data_source']}': "
                                     "only its performed_procedure_step_status can be changed here")
        try:
            services.database.submit_write(update_manual, services, item_id, entry, who).result()
        except WalkInError as exc:
            raise _walk_in(exc) from None
    if body.performed_procedure_step_status is not None:
        services.database.submit_write(_set_status, services, item_id,
                                       _status(body.performed_procedure_step_status), who).result()
    return _get(services, item_id)


def _delete_manual(services: ServicesDep, item_id: int, who: Any) -> None:
    with services.database.session() as session:
        item = session.get(WorklistItem, item_id)
        if item is not None:
            session.delete(item)
            audit.record(session, actor=who.actor, action="worklist.delete", target=f"worklist_item:{item_id}",
                         remote_address=who.remote_address)


@router.delete("/worklist/{item_id}")
def previous_delete(item_id: int, who: Writer, services: ServicesDep) -> dict[str, str]:
    """Remove an item: a manual entry is deleted; a synced one is cancelled (DISCONTINUED, kept), so that the
    next sync does not bring it back."""
    current = _get(services, item_id)
    try:
        if current["data_source"] == MANUAL_SOURCE:
            services.database.submit_write(_delete_manual, services, item_id, who).result()
        elif current["performed_procedure_step_status"] != "DISCONTINUED":
            services.database.submit_write(cancel_item, services.database, item_id, who, "DELETE /worklist").result()
    except WalkInError as exc:
        raise _walk_in(exc) from None
    return {"message": f"Worklist item {item_id} deleted successfully"}


def user_json(user: User) -> dict[str, Any]:
    """A user in the previous API's shape."""
    return {"id": user.id, "username": user.username, "email": None, "full_name": None, "role": user.role,
            "is_active": True, "created_at": as_utc(user.created_at).isoformat(), "last_login": None}


@router.get("/users")
def previous_users(who: Admin, services: ServicesDep) -> list[dict[str, Any]]:
    """Every user (admins only)."""
    with services.database.session() as session:
        return [user_json(user) for user in list_users(session)]


def _account(exc: AccountError) -> HTTPException:
    return HTTPException(400 if "exists already" in str(exc) else UNPROCESSABLE, str(exc))


@router.post("/users")
def previous_add_user(body: PreviousUser, who: Admin, services: ServicesDep) -> dict[str, Any]:
    """Add a user (admins only); 400 when the username is taken."""
    if not body.username or not body.password:
        raise HTTPException(UNPROCESSABLE, "username and password are required")
    try:
        with services.database.session() as session:
            user = add_user(session, body.username, body.password, parse_role(body.role or Role.READ.value))
            audit.record(session, actor=who.actor, action="user.add", target=f"user:{user.username}",
                         changes={"role": [None, user.role]}, remote_address=who.remote_address)
            return user_json(user)
    except AccountError as exc:
        raise _account(exc) from None


@router.put("/users/{user_id}")
def previous_update_user(user_id: int, body: PreviousUser, who: Admin, services: ServicesDep) -> dict[str, Any]:
    """Change a user's password or role (admins only); ``is_active: false`` is refused: remove the user."""
    if body.is_active is False:
        raise HTTPException(UNPROCESSABLE,
                            "is_active: users are not deactivated any more; DELETE /users/{id} removes one")
    try:
        with services.database.session() as session:
            user = session.get(User, user_id)
            if user is None:
                raise HTTPException(404, f"User {user_id} not found")
            changes: dict[str, Any] = {}
            if body.password is not None:
                set_password(session, user.username, body.password)
                changes["password"] = "changed"
            if body.role is not None and body.role != user.role:
                changes["role"] = [user.role, parse_role(body.role).value]
                user.role = parse_role(body.role).value
            if changes:
                audit.record(session, actor=who.actor, action="user.update", target=f"user:{user.username}",
                             changes=changes, remote_address=who.remote_address)
            return user_json(user)
    except AccountError as exc:
        raise _account(exc) from None


@router.delete("/users/{user_id}")
def previous_delete_user(user_id: int, who: Admin, services: ServicesDep) -> dict[str, str]:
    """Remove a user (admins only); not one's own account (400)."""
    with services.database.session() as session:
        user = session.get(User, user_id)
        if user is None:
            raise HTTPException(404, f"User {user_id} not found")
        if user.username == who.username:
            raise HTTPException(400, "Cannot delete your own account")
        name = user.username
        session.delete(user)
        audit.record(session, actor=who.actor, action="user.remove", target=f"user:{name}",
                     remote_address=who.remote_address)
    return {"message": f"User {name} deleted successfully"}

