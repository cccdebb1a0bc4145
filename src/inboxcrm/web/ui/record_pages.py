"""Lead, Contact and Account pages: lists, the record page with its timeline, forms, notes.

The three kinds share one set of page functions, registered once per kind from :data:`KINDS`:

    GET  /{kind}s                      list with search, filters and paging
    GET  /{kind}s/new                  create form          POST /{kind}s            create
    GET  /{kind}s/{id}                 record page with the timeline (``?cursor=`` pages it)
    GET  /{kind}s/{id}/timeline        the next timeline page as a fragment (htmx)
    GET  /{kind}s/{id}/edit            edit form            POST /{kind}s/{id}/edit  update
    POST /{kind}s/{id}/delete          soft delete
    POST /{kind}s/{id}/notes           add a note           POST /notes/{id}/delete  delete a note
    POST /email-threads/{id}/sharing   the mailbox owner's per-thread sharing (back to ``next``)

Every read and write goes through :mod:`inboxcrm.services.records`, ``notes`` and ``timeline``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError

from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.errors import InvalidInput, NotFound
from inboxcrm.domain.records import LEAD_STATUSES, RecordKind
from inboxcrm.services import deals as deal_service
from inboxcrm.services import mail_sharing
from inboxcrm.services import notes as note_service
from inboxcrm.services import records as record_service
from inboxcrm.services import timeline as timeline_service
from inboxcrm.services.identity import Principal
from inboxcrm.services.mail_sharing import MailViewer, mail_viewer
from inboxcrm.services.mail_volume import weekly_mail_volume
from inboxcrm.services.pagination import Page
from inboxcrm.services.record_duplicates import ExistingRecord, records_sharing_emails
from inboxcrm.services.support_flags import flagged_by
from inboxcrm.web.api.params import PathId, StrictDigits
from inboxcrm.web.deps import CurrentPrincipal, RuntimeDep, TenantUow, WriterPrincipal
from inboxcrm.web.ui.page_routes import page_router
from inboxcrm.web.ui.record_charts import mail_volume_chart
from inboxcrm.web.ui.record_forms import (
    FormState,
    PostedForm,
    errors_from,
    form_emails,
    form_texts,
    optional_fields,
)
from inboxcrm.web.ui.rendering import render
from inboxcrm.web.ui.timeline_view import SHARING_CHOICES, group_timeline, human_size, why_linked

logger = logging.getLogger(__name__)

router = page_router()

RecordId = PathId
SearchText = Annotated[str, Query(max_length=200)]
CursorText = Annotated[str, Query(max_length=500)]
LIST_PAGE_SIZE = 25
TIMELINE_PAGE_SIZE = 30
AnyRecord = record_service.Lead | record_service.Contact | record_service.Account


@dataclass(frozen=True)
class FieldSpec:
    """One input of a record form."""

    name: str
    label: str
    input: Literal["text", "tel", "select", "account"] = "text"
    required: bool = False
    options: tuple[str, ...] = ()
    placeholder: str = ""


@dataclass(frozen=True)
class KindSpec:
    """How one record kind appears in the UI and which service functions serve it."""

    kind: RecordKind
    plural: str
    title: str
    title_plural: str
    fields: tuple[FieldSpec, ...]
    optional: tuple[str, ...]
    create_model: type[BaseModel]
    patch_model: type[BaseModel]
    get: Callable[[UnitOfWork, int], AnyRecord]
    create: Callable[[UnitOfWork, Principal, Any], AnyRecord]
    update: Callable[[UnitOfWork, Principal, int, Any], AnyRecord]
    delete: Callable[[UnitOfWork, Principal, int], None]

    @property
    def base_path(self) -> str:
        return "/" + self.plural

    @property
    def labels(self) -> dict[str, str]:
        """Field labels by name, for error messages."""
        return {f.name: f.label for f in self.fields} | {"emails": "Email addresses"}


_PERSON_FIELDS = (FieldSpec("first_name", "First name"), FieldSpec("last_name", "Last name"))

KINDS: dict[RecordKind, KindSpec] = {
    "lead": KindSpec(
        kind="lead",
        plural="leads",
        title="Lead",
        title_plural="Leads",
        fields=(
            *_PERSON_FIELDS,
            FieldSpec("company", "Company"),
            FieldSpec("status", "Status", "select", options=LEAD_STATUSES),
            FieldSpec("source", "Source", placeholder="web form, event, referral…"),
            FieldSpec("phone", "Phone", "tel"),
        ),
        optional=("company", "source", "phone"),
        create_model=record_service.LeadCreate,
        patch_model=record_service.LeadPatch,
        get=record_service.get_lead,
        create=record_service.create_lead,
        update=record_service.update_lead,
        delete=record_service.delete_lead,
    ),
    "contact": KindSpec(
        kind="contact",
        plural="contacts",
        title="Contact",
        title_plural="Contacts",
        fields=(
            *_PERSON_FIELDS,
            FieldSpec("title", "Job title"),
            FieldSpec("account_id", "Account", "account"),
            FieldSpec("phone", "Phone", "tel"),
        ),
        optional=("title", "phone", "account_id"),
        create_model=record_service.ContactCreate,
        patch_model=record_service.ContactPatch,
        get=record_service.get_contact,
        create=record_service.create_contact,
        update=record_service.update_contact,
        delete=record_service.delete_contact,
    ),
    "account": KindSpec(
        kind="account",
        plural="accounts",
        title="Account",
        title_plural="Accounts",
        fields=(
            FieldSpec("name", "Company name", required=True),
            FieldSpec("domain", "Domain", placeholder="example.com"),
            FieldSpec("industry", "Industry"),
            FieldSpec("phone", "Phone", "tel"),
        ),
        optional=("domain", "industry", "phone"),
        create_model=record_service.AccountCreate,
        patch_model=record_service.AccountPatch,
        get=record_service.get_account,
        create=record_service.create_account,
        update=record_service.update_account,
        delete=record_service.delete_account,
    ),
}


def record_path(kind: str, record_id: int) -> str:
    """The URL of a record's page."""
    return f"{KINDS[kind].base_path}/{record_id}"  # type: ignore[index]


def _int_or_none(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 < int(text) < 2**31 else None


def _list_page(
    uow: UnitOfWork, spec: KindSpec, q: str, filters: dict[str, str], cursor: str | None
) -> Page[Any]:
    query = q or None
    if spec.kind == "lead":
        status = filters.get("status") or None
        return record_service.list_leads(
            uow, q=query, status=status, cursor=cursor, limit=LIST_PAGE_SIZE
        )
    if spec.kind == "contact":
        account_id = _int_or_none(filters.get("account_id", ""))
        return record_service.list_contacts(
            uow, q=query, account_id=account_id, cursor=cursor, limit=LIST_PAGE_SIZE
        )
    return record_service.list_accounts(
        uow, q=query, domain_contains=filters.get("domain"), cursor=cursor, limit=LIST_PAGE_SIZE
    )


def _sorted_page(
    uow: UnitOfWork,
    spec: KindSpec,
    q: str,
    filters: dict[str, str],
    context: dict[str, Any],
    page: int,
) -> record_service.SortedPage[Any]:
    equal_to: dict[str, Any] = {}
    if spec.kind == "lead":
        equal_to["status"] = filters.get("status") or None
    elif spec.kind == "contact":
        equal_to["account_id"] = _int_or_none(filters.get("account_id", ""))
    return record_service.list_sorted(
        uow,
        spec.kind,
        sort=context["sort"],
        descending=context["order"] == "desc",
        page=page,
        per_page=LIST_PAGE_SIZE,
        q=q or None,
        domain_contains=filters.get("domain") if spec.kind == "account" else None,
        **equal_to,
    )


def _account_choices(uow: UnitOfWork) -> list[record_service.Account]:
    return list(record_service.list_accounts(uow, limit=200).items)


def _form_page(
    request: Request,
    uow: UnitOfWork,
    spec: KindSpec,
    state: FormState,
    *,
    record: AnyRecord | None = None,
    duplicates: list[ExistingRecord] | None = None,
    status_code: int = 200,
) -> Response:
    needs_accounts = any(f.input == "account" for f in spec.fields)
    return render(
        request,
        "records/form.html",
        {
            "spec": spec,
            "record": record,
            "form": state,
            "accounts": _account_choices(uow) if needs_accounts else [],
            "action": f"{spec.base_path}/{record.id}/edit" if record else spec.base_path,
            "duplicates": duplicates or [],
            "record_path": record_path,
        },
        status_code=status_code,
    )


def _state_of(spec: KindSpec, record: AnyRecord) -> FormState:
    values = {}
    for f in spec.fields:
        value = getattr(record, f.name, None)
        values[f.name] = "" if value is None else str(value)
    return FormState(values=values, emails=list(record.emails))


def _posted_state(spec: KindSpec, form: PostedForm) -> FormState:
    return FormState(
        values=form_texts(form, [f.name for f in spec.fields]), emails=form_emails(form)
    )


def _model_input(spec: KindSpec, state: FormState) -> dict[str, Any]:
    data: dict[str, Any] = optional_fields(state.values, spec.optional)
    data["emails"] = state.emails
    return data


def timeline_context(
    uow: UnitOfWork, spec: KindSpec, record_id: int, cursor: str | None, viewer: MailViewer
) -> dict[str, Any]:
    page = timeline_service.timeline_page(
        uow,
        spec.kind,
        record_id,
        cursor=cursor or None,
        limit=TIMELINE_PAGE_SIZE,
        include_bodies=True,
        viewer=viewer,
    )
    return {
        "entries": group_timeline(list(page.items)),
        "next_cursor": page.next_cursor,
        "timeline_url": f"{spec.base_path}/{record_id}/timeline",
        "record_url": f"{spec.base_path}/{record_id}",
        "why_linked": why_linked,
        "human_size": human_size,
        "sharing_choices": SHARING_CHOICES,
        "support_flagged": flagged_by(uow.session, viewer.user_id),
    }


def _related(uow: UnitOfWork, spec: KindSpec, record_id: int) -> dict[str, Any]:
    related: dict[str, Any] = {"contacts": [], "deals": []}
    if spec.kind == "account":
        related["contacts"] = record_service.list_contacts(uow, account_id=record_id).items
        related["deals"] = deal_service.list_deals(uow, account_id=record_id).items
    elif spec.kind == "contact":
        related["deals"] = deal_service.list_deals(uow, contact_id=record_id).items
    return related


def _register(spec: KindSpec) -> None:
    base = spec.base_path

    def list_records(
        request: Request,
        principal: CurrentPrincipal,
        uow: TenantUow,
        q: SearchText = "",
        cursor: CursorText = "",
        status: Annotated[str, Query(max_length=20)] = "",
        account_id: Annotated[str, Query(max_length=12)] = "",
        domain: Annotated[str, Query(max_length=253)] = "",
        sort: Annotated[str, Query(max_length=10)] = "",
        order: Annotated[str, Query(max_length=4)] = "",
        page: Annotated[int, StrictDigits, Query(ge=1, le=100_000)] = 1,
    ) -> Response:
        filters = {"status": status, "account_id": account_id, "domain": domain}
        context: dict[str, Any] = {
            "spec": spec,
            "q": q,
            "filters": filters,
            "lead_statuses": LEAD_STATUSES,
            "accounts": _account_choices(uow) if spec.kind == "contact" else [],
            "sort": sort if sort in record_service.SORT_KEYS else "",
            "order": "desc" if order == "desc" else "asc",
            "paged": bool(cursor),
            "next_cursor": None,
            "numbered": None,
        }
        if context["sort"]:
            numbered = _sorted_page(uow, spec, q.strip(), filters, context, page)
            context.update(items=numbered.items, numbered=numbered)
        else:
            listed = _list_page(uow, spec, q.strip(), filters, cursor or None)
            context.update(items=listed.items, next_cursor=listed.next_cursor)
        return render(request, "records/list.html", context)

    def new_record_form(request: Request, principal: WriterPrincipal, uow: TenantUow) -> Response:
        state = FormState(values={"status": "new"})
        account = request.query_params.get("account_id", "")
        if spec.kind == "contact" and _int_or_none(account):
            state.values["account_id"] = account
        return _form_page(request, uow, spec, state)

    def create_record(
        request: Request, principal: WriterPrincipal, uow: TenantUow, form: PostedForm
    ) -> Response:
        state = _posted_state(spec, form)
        try:
            data = spec.create_model.model_validate(_model_input(spec, state))
            confirmed = form_texts(form, ["confirm_duplicate"])["confirm_duplicate"] == "1"
            duplicates = [] if confirmed else records_sharing_emails(uow, state.emails)
            if duplicates:
                return _form_page(request, uow, spec, state, duplicates=duplicates, status_code=409)
            record = spec.create(uow, principal, data)
        except (ValidationError, InvalidInput) as exc:
            state.errors = errors_from(exc, spec.labels)
            return _form_page(request, uow, spec, state, status_code=422)
        return RedirectResponse(f"{base}/{record.id}", status_code=303)

    def show_record(
        request: Request,
        principal: CurrentPrincipal,
        runtime: RuntimeDep,
        uow: TenantUow,
        record_id: RecordId,
        cursor: CursorText = "",
    ) -> Response:
        record = spec.get(uow, record_id)
        viewer = mail_viewer(runtime, principal)
        context: dict[str, Any] = {"spec": spec, "record": record, "record_kind": spec.kind}
        context.update(timeline_context(uow, spec, record_id, cursor or None, viewer))
        context["mail_chart"] = mail_volume_chart(
            weekly_mail_volume(uow, spec.kind, record_id, viewer), record.display_name
        )
        context.update(_related(uow, spec, record_id))
        from inboxcrm.web.ui.meeting_pages import meeting_form_context

        context.update(meeting_form_context(uow, principal))
        return render(request, "records/detail.html", context)

    def timeline_fragment(
        request: Request,
        principal: CurrentPrincipal,
        runtime: RuntimeDep,
        uow: TenantUow,
        record_id: RecordId,
        cursor: CursorText = "",
    ) -> Response:
        context: dict[str, Any] = {"spec": spec}
        context.update(
            timeline_context(uow, spec, record_id, cursor or None, mail_viewer(runtime, principal))
        )
        return render(request, "records/_timeline_items.html", context)

    def edit_record_form(
        request: Request, principal: WriterPrincipal, uow: TenantUow, record_id: RecordId
    ) -> Response:
        record = spec.get(uow, record_id)
        state = _state_of(spec, record)
        return _form_page(request, uow, spec, state, record=record)

    def update_record(
        request: Request,
        principal: WriterPrincipal,
        uow: TenantUow,
        record_id: RecordId,
        form: PostedForm,
    ) -> Response:
        record = spec.get(uow, record_id)
        state = _posted_state(spec, form)
        try:
            patch = spec.patch_model.model_validate(_model_input(spec, state))
            spec.update(uow, principal, record_id, patch)
        except (ValidationError, InvalidInput) as exc:
            state.errors = errors_from(exc, spec.labels)
            return _form_page(request, uow, spec, state, record=record, status_code=422)
        return RedirectResponse(f"{base}/{record_id}", status_code=303)

    def delete_record(principal: WriterPrincipal, uow: TenantUow, record_id: RecordId) -> Response:
        spec.delete(uow, principal, record_id)
        return RedirectResponse(base, status_code=303)

    def add_note(
        request: Request,
        principal: WriterPrincipal,
        uow: TenantUow,
        record_id: RecordId,
        form: PostedForm,
    ) -> Response:
        body = form_texts(form, ["body"])["body"]
        try:
            data = note_service.NoteCreate(record_kind=spec.kind, record_id=record_id, body=body)
        except ValidationError:
            raise InvalidInput("a note needs some text (at most 20,000 characters)") from None
        note_service.create_note(uow, principal, data)
        return RedirectResponse(f"{base}/{record_id}#timeline", status_code=303)

    router.add_api_route(base, list_records, methods=["GET"])
    router.add_api_route(base, create_record, methods=["POST"])
    router.add_api_route(f"{base}/new", new_record_form, methods=["GET"])
    router.add_api_route(f"{base}/{{record_id}}", show_record, methods=["GET"])
    router.add_api_route(f"{base}/{{record_id}}/timeline", timeline_fragment, methods=["GET"])
    router.add_api_route(f"{base}/{{record_id}}/edit", edit_record_form, methods=["GET"])
    router.add_api_route(f"{base}/{{record_id}}/edit", update_record, methods=["POST"])
    router.add_api_route(f"{base}/{{record_id}}/delete", delete_record, methods=["POST"])
    router.add_api_route(f"{base}/{{record_id}}/notes", add_note, methods=["POST"])


for _spec in KINDS.values():
    _register(_spec)


@router.post("/notes/{note_id}/delete")
def delete_note(principal: WriterPrincipal, uow: TenantUow, note_id: RecordId) -> Response:
    note = note_service.get_note(uow, note_id)
    note_service.delete_note(uow, principal, note_id)
    if note.record_kind not in KINDS:
        raise NotFound("the note's record is gone")
    return RedirectResponse(record_path(note.record_kind, note.record_id), status_code=303)


def _local_path(target: str) -> str:
    """``target`` if it is a path on this site, else the home page (no open redirect)."""
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@router.post("/email-threads/{thread_id}/sharing")
def set_thread_sharing(
    principal: WriterPrincipal, uow: TenantUow, thread_id: RecordId, form: PostedForm
) -> Response:
    fields = form_texts(form, ["visibility", "detail", "next"])
    mail_sharing.set_thread_sharing(
        uow,
        principal,
        thread_id,
        visibility=fields["visibility"] or None,
        detail=fields["detail"] or None,
    )
    return RedirectResponse(_local_path(fields["next"]), status_code=303)
