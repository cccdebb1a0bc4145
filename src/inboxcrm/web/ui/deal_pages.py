"""The deals pipeline: a board with one column per stage, and deal create/edit forms.

GET  /deals                  the board (``?status=open|won|lost``, ``?q=`` searches names)
GET  /deals/new              create form (``?account_id=`` / ``?contact_id=`` preselect)
POST /deals                  create
GET  /deals/{id}             the deal page: its facts and the timeline of its contact or account
GET  /deals/{id}/edit        edit form            POST /deals/{id}/edit    update
POST /deals/{id}/stage       move to another stage (the board's selects post here via htmx)
POST /deals/{id}/delete      soft delete
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.errors import InvalidInput, NotFound
from inboxcrm.domain.records import DEAL_STAGES, DEAL_STATUSES, RecordKind
from inboxcrm.services import deals as deal_service
from inboxcrm.services import records as record_service
from inboxcrm.services.mail_sharing import mail_viewer
from inboxcrm.web.api.params import PathId
from inboxcrm.web.deps import CurrentPrincipal, RuntimeDep, TenantUow, WriterPrincipal
from inboxcrm.web.ui.page_routes import page_router
from inboxcrm.web.ui.record_charts import pipeline_chart
from inboxcrm.web.ui.record_forms import FormState, PostedForm, errors_from, form_texts
from inboxcrm.web.ui.record_pages import KINDS, timeline_context
from inboxcrm.web.ui.rendering import render

router = page_router()

DealId = PathId
BOARD_LIMIT = 600
_FIELDS = (
    "name",
    "stage",
    "status",
    "amount",
    "currency",
    "close_date",
    "account_id",
    "contact_id",
)
_OPTIONAL = ("amount", "close_date", "account_id", "contact_id")
DEAL_LABELS = {
    "name": "Deal name",
    "stage": "Stage",
    "status": "Status",
    "amount": "Amount",
    "currency": "Currency",
    "close_date": "Expected close date",
    "account_id": "Account",
    "contact_id": "Contact",
}


def _board_deals(uow: UnitOfWork, status: str, q: str) -> list[deal_service.Deal]:
    deals: list[deal_service.Deal] = []
    cursor: str | None = None
    while len(deals) < BOARD_LIMIT:
        page = deal_service.list_deals(uow, status=status, q=q or None, cursor=cursor, limit=200)
        deals.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return deals


def _parent_names(uow: UnitOfWork, deals: list[deal_service.Deal]) -> dict[str, dict[int, str]]:
    """Names of the accounts and contacts the deals sit on, for the cards."""
    names: dict[str, dict[int, str]] = {"account": {}, "contact": {}}
    for deal in deals:
        for kind, record_id in (("account", deal.account_id), ("contact", deal.contact_id)):
            if record_id is None or record_id in names[kind]:
                continue
            try:
                names[kind][record_id] = record_service.get_record(
                    uow, kind, record_id
                ).display_name
            except NotFound:
                names[kind][record_id] = ""
    return names


def _sums(columns: dict[str, list[deal_service.Deal]]) -> dict[str, dict[str, Decimal]]:
    """Per column, the sum of amounts per currency."""
    out: dict[str, dict[str, Decimal]] = {}
    for stage, deals in columns.items():
        sums = out.setdefault(stage, {})
        for deal in deals:
            if deal.amount is not None:
                sums[deal.currency] = sums.get(deal.currency, Decimal(0)) + deal.amount
    return out


def _totals(sums: dict[str, dict[str, Decimal]]) -> dict[str, str]:
    """Per column, the sums as text (``12,000.00 EUR + 500.00 USD``)."""
    return {
        stage: " + ".join(f"{amount:,.2f} {cur}" for cur, amount in sorted(per_stage.items()))
        for stage, per_stage in sums.items()
    }


@router.get("/deals")
def deal_board(
    request: Request,
    principal: CurrentPrincipal,
    uow: TenantUow,
    status: Annotated[str, Query(max_length=10)] = "open",
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    if status not in DEAL_STATUSES:
        status = "open"
    deals = _board_deals(uow, status, q.strip())
    columns = deal_service.deals_by_stage(deals)
    sums = _sums(columns)
    return render(
        request,
        "deals/board.html",
        {
            "columns": columns,
            "totals": _totals(sums),
            "pipeline_chart": pipeline_chart(list(columns), sums),
            "names": _parent_names(uow, deals),
            "status": status,
            "statuses": DEAL_STATUSES,
            "stages": DEAL_STAGES,
            "q": q,
            "truncated": len(deals) >= BOARD_LIMIT,
        },
    )


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _form_page(
    request: Request,
    uow: UnitOfWork,
    state: FormState,
    *,
    deal: deal_service.Deal | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "deals/form.html",
        {
            "deal": deal,
            "form": state,
            "stages": DEAL_STAGES,
            "statuses": DEAL_STATUSES,
            "accounts": record_service.list_accounts(uow, limit=200).items,
            "contacts": record_service.list_contacts(uow, limit=200).items,
            "action": f"/deals/{deal.id}/edit" if deal else "/deals",
        },
        status_code=status_code,
    )


def _deal_input(form: PostedForm) -> tuple[FormState, dict[str, Any]]:
    values = form_texts(form, _FIELDS)
    state = FormState(values=values)
    data: dict[str, Any] = {k: (None if k in _OPTIONAL and not v else v) for k, v in values.items()}
    if data.get("amount"):
        data["amount"] = str(data["amount"]).replace(",", "")
    return state, data


@router.get("/deals/new")
def new_deal_form(
    request: Request,
    principal: WriterPrincipal,
    uow: TenantUow,
    account_id: Annotated[str, Query(max_length=12)] = "",
    contact_id: Annotated[str, Query(max_length=12)] = "",
) -> Response:
    values = {"stage": DEAL_STAGES[0], "status": "open", "currency": "USD"}
    if account_id.isdigit():
        values["account_id"] = account_id
    if contact_id.isdigit():
        values["contact_id"] = contact_id
    return _form_page(request, uow, FormState(values=values))


@router.post("/deals")
def create_deal(
    request: Request, principal: WriterPrincipal, uow: TenantUow, form: PostedForm
) -> Response:
    state, data = _deal_input(form)
    try:
        deal_service.create_deal(uow, principal, deal_service.DealCreate.model_validate(data))
    except (ValidationError, InvalidInput) as exc:
        state.errors = errors_from(exc, DEAL_LABELS)
        return _form_page(request, uow, state, status_code=422)
    return RedirectResponse("/deals", status_code=303)


@router.get("/deals/{deal_id}")
def deal_page(
    request: Request,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    uow: TenantUow,
    deal_id: DealId,
) -> Response:
    deal = deal_service.get_deal(uow, deal_id)
    names = _parent_names(uow, [deal])
    # The deal's conversation is its contact's timeline, else its account's.
    kind: RecordKind = "contact" if deal.contact_id else "account"
    record_id = deal.contact_id or deal.account_id
    context: dict[str, Any] = {"deal": deal, "names": names, "stages": DEAL_STAGES}
    context["timeline_record"] = None
    if record_id is not None and names[kind].get(record_id):
        viewer = mail_viewer(runtime, principal)
        context.update(timeline_context(uow, KINDS[kind], record_id, None, viewer))
        context["timeline_record"] = {"kind": kind, "id": record_id, "name": names[kind][record_id]}
    else:
        context.update({"entries": [], "next_cursor": None})
    return render(request, "deals/detail.html", context)


@router.get("/deals/{deal_id}/edit")
def edit_deal_form(
    request: Request, principal: CurrentPrincipal, uow: TenantUow, deal_id: DealId
) -> Response:
    deal = deal_service.get_deal(uow, deal_id)
    values = {
        name: "" if getattr(deal, name) is None else str(getattr(deal, name)) for name in _FIELDS
    }
    return _form_page(request, uow, FormState(values=values), deal=deal)


@router.post("/deals/{deal_id}/edit")
def update_deal(
    request: Request, principal: WriterPrincipal, uow: TenantUow, deal_id: DealId, form: PostedForm
) -> Response:
    deal = deal_service.get_deal(uow, deal_id)
    state, data = _deal_input(form)
    try:
        patch = deal_service.DealPatch.model_validate(data)
        deal_service.update_deal(uow, principal, deal_id, patch)
    except (ValidationError, InvalidInput) as exc:
        state.errors = errors_from(exc, DEAL_LABELS)
        return _form_page(request, uow, state, deal=deal, status_code=422)
    return RedirectResponse(f"/deals/{deal_id}", status_code=303)


@router.post("/deals/{deal_id}/stage")
def move_deal(
    principal: WriterPrincipal, uow: TenantUow, deal_id: DealId, form: PostedForm
) -> Response:
    stage = form_texts(form, ["stage"])["stage"]
    try:
        patch = deal_service.DealPatch.model_validate({"stage": stage})
    except ValidationError:
        raise InvalidInput(f"unknown stage {stage!r}", field="stage") from None
    deal = deal_service.update_deal(uow, principal, deal_id, patch)
    return RedirectResponse(f"/deals?status={deal.status}", status_code=303)


@router.post("/deals/{deal_id}/delete")
def delete_deal(principal: WriterPrincipal, uow: TenantUow, deal_id: DealId) -> Response:
    deal_service.delete_deal(uow, principal, deal_id)
    return RedirectResponse("/deals", status_code=303)
