"""Gmail v1 REST handlers under ``/gmail/v1/users/{userId}`` (and the ``/upload`` variants)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import TYPE_CHECKING, Any

from inboxcrm.emulator.api_pipeline import (
    GMAIL_DELETE,
    GMAIL_INSERT,
    GMAIL_LABELS_READ,
    GMAIL_LABELS_WRITE,
    GMAIL_MODIFY,
    GMAIL_READ,
    GMAIL_SEND,
    GMAIL_SETTINGS,
    ApiContext,
    ApiRegistry,
)
from inboxcrm.emulator.errors import ApiError, bad_request, not_found
from inboxcrm.emulator.generator import build_tree, tree_find, tree_headers, tree_payload
from inboxcrm.emulator.http_core import Request, Response
from inboxcrm.emulator.ingest import build_record, prepare_sent
from inboxcrm.emulator.mail_store import HIDDEN_BY_DEFAULT, Mailbox, MessageRecord, Watch
from inboxcrm.emulator.mime_payload import (
    attachment_part_id,
    b64url,
    build_payload,
    display_header,
    find_part,
    parse_message,
    part_bytes,
)
from inboxcrm.emulator.multipart import boundary_of, split_head_body, split_parts
from inboxcrm.emulator.search_query import compile_query, query_terms

if TYPE_CHECKING:
    from inboxcrm.emulator.state import EmulatorState

USER = r"/gmail/v1/users/(?P<user>[^/]+)"
UPLOAD = r"/upload/gmail/v1/users/(?P<user>[^/]+)"
FORMATS = ("full", "metadata", "minimal", "raw")
BODY_FORMATS = frozenset({"full", "raw", "attachment"})
HISTORY_TYPES = ("messageAdded", "messageDeleted", "labelAdded", "labelRemoved")
WATCH_TTL_MS = 7 * 24 * 3600 * 1000
_TOPIC = re.compile(r"projects/[^/]+/topics/[^/]+\Z")
MAX_SEND_BYTES = 35 * 1024 * 1024
"""messages.send mediaUpload maxSize (36700160 in the discovery document)."""
MAX_JSON_SEND_BYTES = 5 * 1024 * 1024
"""A JSON ``raw`` body larger than this is refused: big messages go through /upload."""


def decode_raw(value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        raise bad_request(
            "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
            reason="invalidArgument",
        )
    text = value.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise bad_request("Invalid value for ByteString: raw", reason="invalid") from None


def _page_key(token: str | None) -> int | None:
    if not token:
        return None
    try:
        return int(token, 16)
    except ValueError:
        raise bad_request("Invalid pageToken", reason="invalid") from None


class GmailRoutes:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def register(self, api: ApiRegistry) -> None:
        add = api.add
        add("GET", USER + "/profile", "gmail.users.getProfile", GMAIL_READ, self.get_profile)
        add("GET", USER + "/labels", "gmail.users.labels.list", GMAIL_LABELS_READ, self.labels_list)
        add(
            "POST",
            USER + "/labels",
            "gmail.users.labels.create",
            GMAIL_LABELS_WRITE,
            self.labels_create,
        )
        label = USER + r"/labels/(?P<id>[^/]+)"
        add("GET", label, "gmail.users.labels.get", GMAIL_LABELS_READ, self.labels_get)
        add("PATCH", label, "gmail.users.labels.patch", GMAIL_LABELS_WRITE, self.labels_patch)
        add("PUT", label, "gmail.users.labels.update", GMAIL_LABELS_WRITE, self.labels_patch)
        add("DELETE", label, "gmail.users.labels.delete", GMAIL_LABELS_WRITE, self.labels_delete)
        msgs = USER + "/messages"
        add("GET", msgs, "gmail.users.messages.list", GMAIL_READ, self.messages_list)
        add("POST", msgs, "gmail.users.messages.insert", GMAIL_INSERT, self.messages_insert)
        add(
            "POST",
            msgs + "/import",
            "gmail.users.messages.import",
            GMAIL_INSERT,
            self.messages_import,
        )
        add("POST", msgs + "/send", "gmail.users.messages.send", GMAIL_SEND, self.messages_send)
        add(
            "POST",
            msgs + "/batchModify",
            "gmail.users.messages.batchModify",
            GMAIL_MODIFY,
            self.messages_batch_modify,
        )
        add(
            "POST",
            UPLOAD + "/messages/send",
            "gmail.users.messages.send",
            GMAIL_SEND,
            self.messages_send,
        )
        add(
            "POST",
            UPLOAD + "/messages",
            "gmail.users.messages.insert",
            GMAIL_INSERT,
            self.messages_insert,
        )
        add(
            "POST",
            UPLOAD + "/messages/import",
            "gmail.users.messages.import",
            GMAIL_INSERT,
            self.messages_import,
        )
        one = msgs + r"/(?P<id>[0-9a-fA-F]+|[^/]+)"
        add("GET", one, "gmail.users.messages.get", GMAIL_READ, self.messages_get)
        add("DELETE", one, "gmail.users.messages.delete", GMAIL_DELETE, self.messages_delete)
        add(
            "POST",
            one + "/modify",
            "gmail.users.messages.modify",
            GMAIL_MODIFY,
            self.messages_modify,
        )
        add("POST", one + "/trash", "gmail.users.messages.trash", GMAIL_MODIFY, self.messages_trash)
        add(
            "POST",
            one + "/untrash",
            "gmail.users.messages.untrash",
            GMAIL_MODIFY,
            self.messages_untrash,
        )
        add(
            "GET",
            one + r"/attachments/(?P<att>[^/]+)",
            "gmail.users.messages.attachments.get",
            GMAIL_READ,
            self.attachments_get,
        )
        add("GET", USER + "/threads", "gmail.users.threads.list", GMAIL_READ, self.threads_list)
        add(
            "GET",
            USER + r"/threads/(?P<id>[^/]+)",
            "gmail.users.threads.get",
            GMAIL_READ,
            self.threads_get,
        )
        add(
            "POST",
            USER + r"/threads/(?P<id>[^/]+)/modify",
            "gmail.users.threads.modify",
            GMAIL_MODIFY,
            self.threads_modify,
        )
        add("GET", USER + "/history", "gmail.users.history.list", GMAIL_READ, self.history_list)
        add("POST", USER + "/watch", "gmail.users.watch", GMAIL_READ, self.watch)
        add("POST", USER + "/stop", "gmail.users.stop", GMAIL_READ, self.stop)
        add(
            "GET",
            USER + "/settings/sendAs",
            "gmail.users.settings.sendAs.list",
            GMAIL_SETTINGS,
            self.send_as_list,
        )

    def _mailbox(self, ctx: ApiContext) -> Mailbox:
        return self.state.mailbox(ctx.email)

    # -- profile, labels -------------------------------------------------------------------
    def get_profile(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        mailbox = self._mailbox(ctx)
        with self.state.lock:
            return Response.json(
                {
                    "emailAddress": mailbox.email,
                    "messagesTotal": len(mailbox.messages),
                    "threadsTotal": len(mailbox.threads),
                    "historyId": str(mailbox.history_id),
                }
            )

    def labels_list(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        mailbox = self._mailbox(ctx)
        with self.state.lock:
            return Response.json({"labels": [lbl.to_json() for lbl in mailbox.labels.values()]})

    def labels_get(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        mailbox = self._mailbox(ctx)
        with self.state.lock:
            label = mailbox.labels.get(m.group("id"))
            if label is None:
                raise not_found()
            return Response.json({**label.to_json(), **mailbox.label_counts(label.id)})

    def labels_create(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        mailbox = self._mailbox(ctx)
        body = req.json_object()
        with self.state.lock:
            return Response.json(mailbox.create_label(body).to_json())

    def labels_patch(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        mailbox = self._mailbox(ctx)
        body = req.json_object()
        with self.state.lock:
            label = mailbox.labels.get(m.group("id"))
            if label is None:
                raise not_found()
            if label.type == "system":
                raise bad_request("Invalid label: cannot modify a system label")
            mailbox.apply_label_fields(label, body)
            return Response.json(label.to_json())

    def labels_delete(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        mailbox = self._mailbox(ctx)
        with self.state.lock:
            mailbox.delete_label(m.group("id"))
        return Response.empty(204)

    # -- message rendering -----------------------------------------------------------------
    def message_json(
        self,
        mailbox: Mailbox,
        rec: MessageRecord,
        fmt: str,
        metadata_headers: list[str],
        snapshot: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A Message resource; call with a ``snapshot`` of the mutable fields taken under lock."""
        data: dict[str, Any] = snapshot if snapshot is not None else self.snapshot(rec)
        data = dict(data)
        if fmt == "minimal":
            return data
        if fmt == "raw":
            data["raw"] = b64url(self.state.raw_bytes(mailbox, rec))
            return data
        if rec.gen is not None:
            tree = build_tree(rec, mailbox)
            if fmt == "full":
                data["payload"] = tree_payload(tree, rec.id)
                return data
            wanted_set = {h.lower() for h in metadata_headers} or None
            data["payload"] = {
                "partId": "",
                "mimeType": tree.mime,
                "filename": "",
                "headers": tree_headers(tree, wanted_set),
                "body": {"size": 0},
            }
            return data
        msg = parse_message(rec.raw or b"")
        if fmt == "full":
            data["payload"] = build_payload(msg, rec.id)
            return data
        headers = [(k, str(v)) for k, v in msg.items()]
        top_mime = msg.get_content_type()
        wanted = {h.lower() for h in metadata_headers}
        data["payload"] = {
            "partId": "",
            "mimeType": top_mime,
            "filename": "",
            "headers": [
                {"name": n, "value": display_header(n, v)}
                for n, v in headers
                if not wanted or n.lower() in wanted
            ],
            "body": {"size": 0},
        }
        return data

    @staticmethod
    def snapshot(rec: MessageRecord) -> dict[str, Any]:
        data: dict[str, Any] = {"id": rec.id, "threadId": rec.thread_id}
        if rec.labels:
            data["labelIds"] = list(rec.labels)
        data.update(
            {
                "snippet": rec.snippet,
                "sizeEstimate": rec.size_estimate,
                "historyId": str(rec.history_id),
                "internalDate": str(rec.internal_date),
            }
        )
        return data

    def _format(self, ctx: ApiContext, req: Request) -> str:
        fmt = (req.param("format") or "full").lower()
        if fmt not in FORMATS:
            raise bad_request(f"Invalid value at 'format' ({fmt})", reason="invalid")
        if ctx.metadata_only and fmt in ("full", "raw"):
            raise ApiError(
                403, f"Metadata scope doesn't allow format {fmt.upper()}", reason="forbidden"
            )
        return fmt

    # -- messages --------------------------------------------------------------------------
    def messages_get(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        fmt = self._format(ctx, req)
        mailbox = self._mailbox(ctx)
        with self.state.lock:
            rec = mailbox.get(m.group("id"))
            snap = self.snapshot(rec)
            mailbox.note_fetch(rec.id, fmt)
        return Response.json(
            self.message_json(mailbox, rec, fmt, req.params("metadataHeaders"), snap)
        )

    def _filters(
        self, ctx: ApiContext, req: Request, mailbox: Mailbox
    ) -> tuple[Any, list[str], bool]:
        query = req.param("q") or ""
        if query and ctx.metadata_only:
            raise ApiError(403, "Metadata scope does not support 'q' parameter", reason="forbidden")
        compiled = compile_query(query, mailbox.resolve_label, self.state.clock.now_ms())
        label_ids = req.params("labelIds")
        for label_id in label_ids:
            if label_id not in mailbox.labels:
                raise bad_request(f"Invalid label: {label_id}")
        include = (
            req.bool_param("includeSpamTrash")
            or compiled.mentions_spam_trash
            or any(lbl in HIDDEN_BY_DEFAULT for lbl in label_ids)
        )
        return compiled.predicate, label_ids, include

    @staticmethod
    def _visible(rec: MessageRecord, predicate: Any, label_ids: list[str], include: bool) -> bool:
        labels = rec.labels
        if not include and ("SPAM" in labels or "TRASH" in labels):
            return False
        for label_id in label_ids:
            if label_id not in labels:
                return False
        return bool(predicate(rec))

    def messages_list(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        mailbox = self._mailbox(ctx)
        max_results = req.int_param("maxResults", 100, minimum=1, maximum=500)
        cursor = _page_key(req.param("pageToken"))
        limit = self.state.settings.query_max_terms
        if limit is not None and query_terms(req.param("q") or "") > limit:
            # Gmail answers some long or complex queries with nothing at all, silently.
            return Response.json({"resultSizeEstimate": 0})
        with self.state.lock:
            predicate, label_ids, include = self._filters(ctx, req, mailbox)
            found: list[MessageRecord] = []
            for rec in mailbox.iter_newest(cursor):
                if self._visible(rec, predicate, label_ids, include):
                    found.append(rec)
                    if len(found) > max_results:
                        break
        body: dict[str, Any] = {}
        page = found[:max_results]
        if page:
            body["messages"] = [{"id": r.id, "threadId": r.thread_id} for r in page]
        if len(found) > max_results:
            body["nextPageToken"] = f"{page[-1].key:x}"
        body["resultSizeEstimate"] = len(page) + (max_results if len(found) > max_results else 0)
        return Response.json(body)

    def _incoming(self, ctx: ApiContext, req: Request) -> tuple[bytes, dict[str, Any]]:
        """(raw bytes, JSON metadata) from a JSON body or an /upload media/multipart body."""
        if req.path.startswith("/upload/"):
            kind = req.param("uploadType") or "media"
            ctype = req.headers.get("content-type", "")
            if kind == "multipart":
                boundary = boundary_of(ctype)
                parts = split_parts(req.body, boundary) if boundary else []
                if len(parts) < 2:
                    raise bad_request("Invalid multipart upload")
                _, meta_bytes = split_head_body(parts[0])
                _, raw = split_head_body(parts[1])
                try:
                    meta = json.loads(meta_bytes or b"{}")
                except ValueError:
                    raise bad_request(
                        "Invalid JSON payload received.", reason="parseError"
                    ) from None
                return raw, meta if isinstance(meta, dict) else {}
            if kind == "media":
                return req.body, {}
            raise bad_request(f"Unsupported uploadType: {kind}")
        body = req.json_object()
        return decode_raw(body.get("raw")), body

    def messages_send(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        if not req.path.startswith("/upload/") and len(req.body) > MAX_JSON_SEND_BYTES:
            raise ApiError(
                413,
                "Request payload size exceeds the limit: 5242880 bytes. "
                "Use the /upload/ endpoint for large messages.",
                reason="uploadTooLarge",
            )
        raw, meta = self._incoming(ctx, req)
        if len(raw) > MAX_SEND_BYTES:
            raise ApiError(413, "Message too large", reason="uploadTooLarge")
        mailbox = self._mailbox(ctx)
        with self.state.lock:
            raw = prepare_sent(raw, mailbox, self.state.clock.now_ms())
            rec = build_record(
                mailbox,
                raw,
                labels=["SENT"],
                internal_date=None,
                now_ms=self.state.clock.now_ms(),
                thread_id=str(meta.get("threadId") or "") or None,
                strict_thread=True,
            )
            if not (rec.to or rec.cc or rec.bcc):
                raise bad_request("Recipient address required", reason="failedPrecondition")
            mailbox.add(rec)
            local = [
                a
                for a in {*rec.to, *rec.cc, *rec.bcc}
                if a in self.state.users and a != mailbox.email
            ]
        for address in sorted(local):
            self.state.deliver(address, raw)
        return Response.json(
            {"id": rec.id, "threadId": rec.thread_id, "labelIds": list(rec.labels)}
        )

    def _insert(self, ctx: ApiContext, req: Request, *, date_header_default: bool) -> Response:
        raw, meta = self._incoming(ctx, req)
        labels = [str(lbl) for lbl in meta.get("labelIds") or []]
        source = req.param("internalDateSource") or (
            "dateHeader" if date_header_default else "receivedTime"
        )
        rec = self.state.deliver(
            ctx.email,
            raw,
            labels=labels,
            thread_id=str(meta.get("threadId") or "") or None,
            date_from_header=source == "dateHeader",
        )
        return Response.json(
            {
                "id": rec.id,
                "threadId": rec.thread_id,
                **({"labelIds": list(rec.labels)} if rec.labels else {}),
            }
        )

    def messages_insert(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        return self._insert(ctx, req, date_header_default=False)

    def messages_import(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        return self._insert(ctx, req, date_header_default=True)

    def _label_lists(self, body: dict[str, Any]) -> tuple[list[str], list[str]]:
        add = body.get("addLabelIds") or []
        remove = body.get("removeLabelIds") or []
        if not isinstance(add, list) or not isinstance(remove, list):
            raise bad_request("Invalid label ids")
        return [str(x) for x in add], [str(x) for x in remove]

    def _short(self, rec: MessageRecord) -> Response:
        data: dict[str, Any] = {"id": rec.id, "threadId": rec.thread_id}
        if rec.labels:
            data["labelIds"] = list(rec.labels)
        return Response.json(data)

    def messages_modify(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        add, remove = self._label_lists(req.json_object())
        mailbox = self._mailbox(ctx)
        with self.state.lock:
            rec = mailbox.get(m.group("id"))
            mailbox.check_labels(add + remove)
            mailbox.modify(rec, add, remove)
            return self._short(rec)

    def messages_trash(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        mailbox = self._mailbox(ctx)
        with self.state.lock:
            rec = mailbox.get(m.group("id"))
            mailbox.modify(rec, ["TRASH"], ["INBOX"])
            return self._short(rec)

    def messages_untrash(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        mailbox = self._mailbox(ctx)
        with self.state.lock:
            rec = mailbox.get(m.group("id"))
            mailbox.modify(rec, [], ["TRASH"])
            return self._short(rec)

    def messages_delete(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        mailbox = self._mailbox(ctx)
        with self.state.lock:
            mailbox.delete(m.group("id"))
        return Response.empty(204)

    def messages_batch_modify(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        body = req.json_object()
        ids = body.get("ids") or []
        if not isinstance(ids, list) or not ids:
            raise bad_request("No message ids specified")
        if len(ids) > 1000:
            raise bad_request("Too many ids specified, the maximum allowed is 1000")
        add, remove = self._label_lists(body)
        mailbox = self._mailbox(ctx)
        with self.state.lock:
            mailbox.check_labels(add + remove)
            for msg_id in ids:
                rec = mailbox.messages.get(str(msg_id))
                if rec is not None:
                    mailbox.modify(rec, add, remove)
        return Response.empty(204)

    def attachments_get(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        if ctx.metadata_only:
            raise ApiError(403, "Metadata scope doesn't allow attachments", reason="forbidden")
        mailbox = self._mailbox(ctx)
        with self.state.lock:
            rec = mailbox.get(m.group("id"))
            mailbox.note_fetch(rec.id, "attachment")
        part_id = attachment_part_id(m.group("att"), rec.id)
        if part_id is None:
            raise bad_request("Invalid attachment token", reason="invalidArgument")
        if rec.gen is not None:
            node = tree_find(build_tree(rec, mailbox), part_id)
            if node is None or node.content is None:
                raise not_found()
            data = node.content()[0]
        else:
            part = find_part(parse_message(rec.raw or b""), part_id)
            if part is None:
                raise not_found()
            data = part_bytes(part)
        return Response.json(
            {"attachmentId": m.group("att"), "size": len(data), "data": b64url(data)}
        )

    # -- threads ---------------------------------------------------------------------------
    def threads_list(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        mailbox = self._mailbox(ctx)
        max_results = req.int_param("maxResults", 100, minimum=1, maximum=500)
        cursor = _page_key(req.param("pageToken"))
        found: list[dict[str, Any]] = []
        more = False
        with self.state.lock:
            predicate, label_ids, include = self._filters(ctx, req, mailbox)
            seen: set[str] = set()
            last_key = 0
            for rec in mailbox.iter_newest(cursor):
                if rec.thread_id in seen or not self._visible(rec, predicate, label_ids, include):
                    continue
                newer = [
                    other
                    for other in mailbox.thread_messages(rec.thread_id)
                    if other.key > rec.key and self._visible(other, predicate, label_ids, include)
                ]
                seen.add(rec.thread_id)
                if newer:  # listed on an earlier page already
                    continue
                if len(found) == max_results:
                    more = True
                    break
                thread = mailbox.thread_messages(rec.thread_id)
                found.append(
                    {
                        "id": rec.thread_id,
                        "snippet": thread[-1].snippet,
                        "historyId": str(max(t.history_id for t in thread)),
                    }
                )
                last_key = rec.key
        body: dict[str, Any] = {}
        if found:
            body["threads"] = found
        if more:
            body["nextPageToken"] = f"{last_key:x}"
        body["resultSizeEstimate"] = len(found) + (max_results if more else 0)
        return Response.json(body)

    def threads_get(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        fmt = self._format(ctx, req)
        if fmt == "raw":
            raise bad_request("Invalid format RAW for threads.get", reason="invalidArgument")
        mailbox = self._mailbox(ctx)
        with self.state.lock:
            records = mailbox.thread_messages(m.group("id"))
            snaps = [self.snapshot(r) for r in records]
            for rec in records:
                mailbox.note_fetch(rec.id, fmt)
        headers = req.params("metadataHeaders")
        messages = [
            self.message_json(mailbox, r, fmt, headers, s)
            for r, s in zip(records, snaps, strict=True)
        ]
        return Response.json(
            {
                "id": m.group("id"),
                "historyId": str(max(r.history_id for r in records)),
                "messages": messages,
            }
        )

    def threads_modify(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        """Add and remove labels on every message of the thread (Gmail's threads.modify)."""
        add, remove = self._label_lists(req.json_object())
        mailbox = self._mailbox(ctx)
        with self.state.lock:
            records = mailbox.thread_messages(m.group("id"))
            mailbox.check_labels(add + remove)
            for rec in records:
                mailbox.modify(rec, add, remove)
            messages = []
            for rec in records:
                short: dict[str, Any] = {"id": rec.id, "threadId": rec.thread_id}
                if rec.labels:
                    short["labelIds"] = list(rec.labels)
                messages.append(short)
            history = str(max(r.history_id for r in records))
        return Response.json({"id": m.group("id"), "historyId": history, "messages": messages})

    # -- history, watch --------------------------------------------------------------------
    def history_list(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        start_raw = req.param("startHistoryId")
        if not start_raw:
            raise bad_request("startHistoryId is required", reason="invalidArgument")
        try:
            start = int(start_raw)
        except ValueError:
            raise bad_request(
                f"Invalid value '{start_raw}' for startHistoryId", reason="invalid"
            ) from None
        max_results = req.int_param("maxResults", 100, minimum=1, maximum=500)
        types = set(req.params("historyTypes")) or set(HISTORY_TYPES)
        label_id = req.param("labelId")
        page_token = req.param("pageToken")
        after = start
        if page_token:
            try:
                after = int(page_token)
            except ValueError:
                raise bad_request("Invalid pageToken", reason="invalid") from None
        mailbox = self._mailbox(ctx)
        entries: list[dict[str, Any]] = []
        more = False
        with self.state.lock:
            records = mailbox.history_since(start, self.state.settings.history_retention_s)
            for record in records:
                if record.id <= after or record.kind not in types:
                    continue
                if label_id and label_id not in record.labels and label_id not in record.changed:
                    continue
                if len(entries) == max_results:
                    more = True
                    break
                ref = {"id": record.message_id, "threadId": record.thread_id}
                entry: dict[str, Any] = {"id": str(record.id), "messages": [ref]}
                full = {**ref, **({"labelIds": list(record.labels)} if record.labels else {})}
                if record.kind == "messageAdded":
                    entry["messagesAdded"] = [{"message": full}]
                elif record.kind == "messageDeleted":
                    entry["messagesDeleted"] = [{"message": ref}]
                else:
                    key = "labelsAdded" if record.kind == "labelAdded" else "labelsRemoved"
                    entry[key] = [{"message": full, "labelIds": list(record.changed)}]
                entries.append(entry)
            current = mailbox.history_id
        body: dict[str, Any] = {}
        if entries:
            body["history"] = entries
        if more:
            body["nextPageToken"] = entries[-1]["id"]
        body["historyId"] = str(current)
        return Response.json(body)

    def watch(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        body = req.json_object()
        topic = str(body.get("topicName") or "")
        if not _TOPIC.match(topic):
            raise bad_request(
                "Invalid topicName does not match projects/SOME_PROJECT/topics/*",
                reason="invalidArgument",
            )
        behavior = str(
            body.get("labelFilterBehavior") or body.get("labelFilterAction") or "include"
        )
        labels = [str(x) for x in body.get("labelIds") or []]
        if topic in self.state.settings.push_denied_topics:
            raise ApiError(
                403,
                f"Error sending test message to Cloud PubSub {topic} : "
                "User not authorized to perform this action.",
                reason="forbidden",
            )
        mailbox = self._mailbox(ctx)
        with self.state.lock:
            mailbox.check_labels(labels)
            expiration = self.state.clock.now_ms() + WATCH_TTL_MS
            mailbox.watch = Watch(
                topic, tuple(labels), behavior.lower(), expiration, mailbox.history_id
            )
            return Response.json(
                {"historyId": str(mailbox.history_id), "expiration": str(expiration)}
            )

    def stop(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        mailbox = self._mailbox(ctx)
        with self.state.lock:
            mailbox.watch = None
        return Response.empty(204)

    def send_as_list(self, ctx: ApiContext, req: Request, m: re.Match[str]) -> Response:
        mailbox = self._mailbox(ctx)
        entries: list[dict[str, Any]] = [
            {
                "sendAsEmail": mailbox.email,
                "displayName": mailbox.name,
                "replyToAddress": "",
                "signature": "",
                "isPrimary": True,
                "isDefault": True,
            }
        ]
        for alias in mailbox.aliases:
            entries.append(
                {
                    "sendAsEmail": alias,
                    "displayName": mailbox.name,
                    "replyToAddress": "",
                    "signature": "",
                    "isDefault": False,
                    "treatAsAlias": True,
                    "verificationStatus": "accepted",
                }
            )
        return Response.json({"sendAs": entries})
