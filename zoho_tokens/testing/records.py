"""The fake CRM's records API: list, get, create, update and delete, kept in memory per org.

Answers use Zoho's shapes (``{"data": [...], "info": {...}}`` for reads, one
``{"code", "details", "message", "status"}`` per record for writes, 204 for nothing to show,
304 for ``If-Modified-Since`` with no change, 201/200/207/400 by how many writes succeeded)
because the SDK parses them strictly and users' code branches on them.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from zoho_tokens.testing.crm_fields import (
    FIELDS,
    MODULE_IDS,
    MODULES,
    SYSTEM_FIELDS,
    FieldSpec,
    canonical_module,
    field_json,
    invalid_reason,
)
from zoho_tokens.testing.identities import ZohoIdentity
from zoho_tokens.testing.replies import Reply, empty, json_reply, zoho_error

__all__ = ["RecordError", "RecordStore"]

MAX_PER_PAGE = 200
MAX_RECORDS_PER_CALL = 100
SORTABLE = ("id", "Created_Time", "Modified_Time")
#: First record id; Zoho's ids are 19-digit numbers sent as strings.
FIRST_ID = 4_876_876_000_000_100_001

Record = dict[str, Any]
UserLookup = Callable[[str, str], "ZohoIdentity | None"]


class RecordError(ValueError):
    """A record Zoho would refuse; ``error`` is Zoho's per-record error object."""

    def __init__(self, error: dict[str, Any]) -> None:
        self.error = error
        super().__init__(f"{error['code']}: {error['message']} {error['details']}")


def _error(code: str, message: str, **details: Any) -> RecordError:
    return RecordError({"code": code, "details": details, "message": message, "status": "error"})


def zoho_time(moment: datetime) -> str:
    """``2026-11-25T10:00:00+00:00``: Zoho's record time format (whole seconds, offset)."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def parse_time(text: str) -> datetime | None:
    """ISO 8601 (what Zoho documents and the SDK sends) or an HTTP date; None if neither."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class RecordStore:
    """Records of every org the fake serves, with the HTTP handling of the records API.

    ``now`` is the wall clock (epoch seconds) for Created_Time/Modified_Time; ``user_by_id``
    finds an org's user for ``Owner`` values.
    """

    def __init__(self, now: Callable[[], float], user_by_id: UserLookup) -> None:
        self._now = now
        self._user_by_id = user_by_id
        self._lock = threading.Lock()
        self._ids = itertools.count(FIRST_ID)
        #: org id -> module -> record id -> record (the JSON Zoho would return, all fields).
        self._orgs: dict[str, dict[str, dict[str, Record]]] = {}

    # -- Python API ------------------------------------------------------------------

    def add(self, module: str, values: Mapping[str, Any], owner: ZohoIdentity) -> str:
        """Validate and store a record as ``owner``; system fields may be given to seed."""
        name = canonical_module(module)
        if name is None:
            raise ValueError(f"the fake Zoho has no module {module!r}; use one of {list(MODULES)}")
        with self._lock:
            record = self._create(name, dict(values), owner, 0, seeding=True)
        return str(record["id"])

    def records(self, module: str, org_id: str | None = None) -> list[Record]:
        """Copies of the stored records, oldest first, of one org or of all orgs."""
        name = canonical_module(module)
        if name is None:
            raise ValueError(f"the fake Zoho has no module {module!r}; use one of {list(MODULES)}")
        with self._lock:
            orgs = [org_id] if org_id is not None else list(self._orgs)
            found = [r for o in orgs for r in self._table(o, name).values()]
        return copy.deepcopy(sorted(found, key=lambda r: int(r["id"])))

    # -- HTTP ------------------------------------------------------------------------

    def fields_reply(self, params: Mapping[str, str]) -> Reply:
        """``GET /settings/fields?module=X``."""
        if not params.get("module"):
            return zoho_error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                param_name="module",
            )
        name = canonical_module(params["module"])
        if name is None:
            return zoho_error(400, "INVALID_DATA", "the module name given seems to be invalid")
        fields = [field_json(name, i, spec) for i, spec in enumerate(FIELDS[name], 1)]
        return json_reply(200, {"fields": fields})

    @staticmethod
    def modules_reply() -> Reply:
        """``GET /settings/modules`` (read when the SDK's auto_refresh_fields is on)."""
        modules = [
            {
                "api_name": name,
                "module_name": name,
                "plural_label": name,
                "singular_label": singular,
                "id": MODULE_IDS[name],
                "api_supported": True,
                "generated_type": "default",
            }
            for name, singular in MODULES.items()
        ]
        return json_reply(200, {"modules": modules})

    def handle(
        self,
        who: ZohoIdentity,
        method: str,
        module: str,
        record_id: str | None,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        """Answer ``/<Module>`` or ``/<Module>/<id>`` for ``who``, an authenticated user.

        ``headers`` have lower-case names.
        """
        name = canonical_module(module)
        if name is None:
            return zoho_error(
                400,
                "INVALID_MODULE",
                "the module name given seems to be invalid",
                resource_path_index=0,
            )
        if record_id is not None and not record_id.isdigit():
            return zoho_error(
                404,
                "INVALID_URL_PATTERN",
                "Please check if the URL trying to access is a correct one",
            )
        with self._lock:
            if method == "GET" and record_id is None:
                return self._list(who, name, params, headers)
            if method == "GET":
                return self._get(who, name, record_id or "", params)
            if method == "POST" and record_id is None:
                return self._write(who, name, body, None, create=True)
            if method == "PUT":
                return self._write(who, name, body, record_id, create=False)
            if method == "DELETE":
                ids = [record_id] if record_id else _split(params.get("ids", ""))
                return self._delete(who, name, ids, single=record_id is not None)
        return zoho_error(
            400, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one"
        )

    # -- reads (lock held) -----------------------------------------------------------

    def _list(
        self, who: ZohoIdentity, module: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> Reply:
        fields = _split(params.get("fields", ""))
        if not fields:
            return zoho_error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                param_name="fields",
            )
        try:
            page = _positive(params.get("page", "1"), "page", None)
            per_page = _positive(params.get("per_page", str(MAX_PER_PAGE)), "per_page", 200)
        except RecordError as exc:
            return json_reply(400, exc.error)
        sort_by = params.get("sort_by") or "id"
        sort_order = params.get("sort_order") or "desc"
        if sort_by not in SORTABLE or sort_order not in ("asc", "desc"):
            bad = "sort_by" if sort_by not in SORTABLE else "sort_order"
            return zoho_error(400, "INVALID_DATA", "the given value is invalid", param_name=bad)

        rows = list(self._table(who.org_id, module).values())
        if params.get("ids"):
            wanted = set(_split(params["ids"]))
            rows = [r for r in rows if r["id"] in wanted]
        since_header = headers.get("if-modified-since")
        if since_header:
            since = parse_time(since_header)
            if since is None:
                return zoho_error(
                    400, "INVALID_DATA", "invalid data", param_name="If-Modified-Since"
                )
            rows = [r for r in rows if _time_of(r, "Modified_Time") > since]
            if not rows:
                return empty(304)

        def key(row: Record) -> Any:
            return int(row["id"]) if sort_by == "id" else (_time_of(row, sort_by), int(row["id"]))

        rows.sort(key=key, reverse=sort_order == "desc")
        start = (page - 1) * per_page
        chunk = rows[start : start + per_page]
        if not chunk:
            return empty(204)
        info = {
            "per_page": per_page,
            "next_page_token": None,
            "count": len(chunk),
            "sort_by": sort_by,
            "page": page,
            "previous_page_token": None,
            "page_token_expiry": None,
            "sort_order": sort_order,
            "more_records": start + per_page < len(rows),
        }
        return json_reply(200, {"data": [_pick(r, fields) for r in chunk], "info": info})

    def _get(
        self, who: ZohoIdentity, module: str, record_id: str, params: Mapping[str, str]
    ) -> Reply:
        row = self._table(who.org_id, module).get(record_id)
        if row is None:
            return empty(204)
        fields = _split(params.get("fields", ""))
        return json_reply(200, {"data": [_pick(row, fields) if fields else copy.deepcopy(row)]})

    # -- writes (lock held) ----------------------------------------------------------

    def _write(
        self, who: ZohoIdentity, module: str, body: bytes, path_id: str | None, *, create: bool
    ) -> Reply:
        try:
            items = _data_items(body)
        except RecordError as exc:
            return json_reply(400, exc.error)
        results: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            try:
                if not isinstance(item, dict):
                    raise _error(
                        "INVALID_DATA",
                        "invalid data",
                        expected_data_type="jsonobject",
                        json_path=f"$.data[{index}]",
                    )
                if create:
                    record = self._create(module, item, who, index)
                else:
                    record = self._update(module, item, who, index, path_id)
            except RecordError as exc:
                results.append(exc.error)
                continue
            results.append(
                {
                    "code": "SUCCESS",
                    "details": {
                        "Modified_Time": record["Modified_Time"],
                        "Modified_By": _minified(record["Modified_By"]),
                        "Created_Time": record["Created_Time"],
                        "id": record["id"],
                        "Created_By": _minified(record["Created_By"]),
                    },
                    "message": "record added" if create else "record updated",
                    "status": "success",
                }
            )
        return json_reply(_write_status(results, 201 if create else 200), {"data": results})

    def _delete(self, who: ZohoIdentity, module: str, ids: list[str], *, single: bool) -> Reply:
        if not ids:
            return zoho_error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                param_name="ids",
            )
        if len(ids) > MAX_RECORDS_PER_CALL:
            return zoho_error(400, "LIMIT_EXCEEDED", "limit exceeded", limit=MAX_RECORDS_PER_CALL)
        table = self._table(who.org_id, module)
        results: list[dict[str, Any]] = []
        for record_id in ids:
            if table.pop(record_id, None) is None:
                results.append(
                    {
                        "code": "INVALID_DATA",
                        "details": {"id": record_id},
                        "message": "the related id given seems to be invalid",
                        "status": "error",
                    }
                )
            else:
                results.append(
                    {
                        "code": "SUCCESS",
                        "details": {"id": record_id},
                        "message": "record deleted",
                        "status": "success",
                    }
                )
        return json_reply(_write_status(results, 200), {"data": results})

    def _create(
        self,
        module: str,
        item: dict[str, Any],
        who: ZohoIdentity,
        index: int,
        *,
        seeding: bool = False,
    ) -> Record:
        values = self._clean(module, item, who.org_id, index, creating=True)
        owner = values.pop("Owner", None) or who.minified()
        now = zoho_time(datetime.fromtimestamp(self._now(), UTC))
        record: Record = {spec.api_name: None for spec in FIELDS[module]}
        record.update(values)
        record.update(
            id=str(next(self._ids)),
            Owner=owner,
            Created_Time=now,
            Modified_Time=now,
            Created_By=who.minified(),
            Modified_By=who.minified(),
        )
        if seeding:
            for key in ("id", "Created_Time", "Modified_Time"):
                if item.get(key) is not None:
                    record[key] = str(item[key])
            if "Modified_Time" not in item:
                record["Modified_Time"] = record["Created_Time"]
        _fill_names(module, record)
        self._table(who.org_id, module)[record["id"]] = record
        return record

    def _update(
        self,
        module: str,
        item: dict[str, Any],
        who: ZohoIdentity,
        index: int,
        path_id: str | None,
    ) -> Record:
        record_id = path_id or (str(item["id"]) if item.get("id") is not None else "")
        if not record_id:
            raise _error(
                "MANDATORY_NOT_FOUND",
                "required field not found",
                api_name="id",
                json_path=f"$.data[{index}].id",
            )
        record = self._table(who.org_id, module).get(record_id)
        if record is None:
            raise _error(
                "INVALID_DATA",
                "the id given seems to be invalid",
                api_name="id",
                json_path=f"$.data[{index}].id",
            )
        record.update(self._clean(module, item, who.org_id, index, creating=False))
        record["Modified_Time"] = zoho_time(datetime.fromtimestamp(self._now(), UTC))
        record["Modified_By"] = who.minified()
        _fill_names(module, record)
        return record

    def _clean(
        self, module: str, item: dict[str, Any], org_id: str, index: int, *, creating: bool
    ) -> dict[str, Any]:
        """The writable values of ``item``; unknown and read-only keys are ignored, as Zoho does."""
        specs = {spec.api_name: spec for spec in FIELDS[module]}
        clean: dict[str, Any] = {}
        for spec in specs.values():
            if spec.read_only or spec.api_name in SYSTEM_FIELDS:
                continue
            present = spec.api_name in item
            value = item.get(spec.api_name)
            if spec.mandatory and (value is None or value == "") and (creating or present):
                raise _error(
                    "MANDATORY_NOT_FOUND",
                    "required field not found",
                    api_name=spec.api_name,
                    json_path=f"$.data[{index}].{spec.api_name}",
                )
            if not present:
                continue
            clean[spec.api_name] = (
                None if value is None else self._value(spec, value, org_id, index)
            )
        return clean

    def _value(self, spec: FieldSpec, value: Any, org_id: str, index: int) -> Any:
        path = f"$.data[{index}].{spec.api_name}"
        expected = invalid_reason(spec, value)
        if expected is not None:
            raise _error(
                "INVALID_DATA",
                "invalid data",
                expected_data_type=expected,
                api_name=spec.api_name,
                json_path=path,
            )
        if spec.data_type == "ownerlookup":
            user = self._user_by_id(org_id, str(value["id"]))
            if user is None:
                raise _error("INVALID_DATA", "invalid data", api_name=spec.api_name, json_path=path)
            return user.minified()
        if spec.data_type == "lookup":
            target = self._table(org_id, spec.lookup or "").get(str(value["id"]))
            if target is None:
                raise _error(
                    "INVALID_DATA",
                    "the id given seems to be invalid",
                    api_name=spec.api_name,
                    json_path=path,
                    id=str(value["id"]),
                )
            return {"name": _display_name(spec.lookup or "", target), "id": target["id"]}
        return value

    def _table(self, org_id: str, module: str) -> dict[str, Record]:
        return self._orgs.setdefault(org_id, {}).setdefault(module, {})


def _data_items(body: bytes) -> list[Any]:
    try:
        payload = json.loads(body.decode("utf-8") or "null")
    except (UnicodeDecodeError, ValueError):
        payload = None
    if not isinstance(payload, dict):
        raise _error("INVALID_DATA", "invalid data", expected_data_type="jsonobject")
    items = payload.get("data")
    if not isinstance(items, list) or not items:
        raise _error(
            "MANDATORY_NOT_FOUND", "required field not found", api_name="data", json_path="$.data"
        )
    if len(items) > MAX_RECORDS_PER_CALL:
        raise _error(
            "LIMIT_EXCEEDED",
            "limit exceeded",
            limit=MAX_RECORDS_PER_CALL,
            api_name="data",
            json_path="$.data",
        )
    return items


def _write_status(results: list[dict[str, Any]], success: int) -> int:
    """All succeeded: ``success``; none: 400; some: 207 Multi-Status, as Zoho answers."""
    ok = sum(r["status"] == "success" for r in results)
    return success if ok == len(results) else 400 if ok == 0 else 207


def _fill_names(module: str, record: Record) -> None:
    if "Full_Name" in record:
        parts = (record.get("First_Name"), record.get("Last_Name"))
        record["Full_Name"] = " ".join(p for p in parts if p)


def _display_name(module: str, record: Record) -> str:
    key = {"Accounts": "Account_Name", "Deals": "Deal_Name"}.get(module, "Full_Name")
    return str(record.get(key) or "")


def _minified(user: dict[str, Any]) -> dict[str, Any]:
    return {"name": user["name"], "id": user["id"]}


def _pick(record: Record, fields: list[str]) -> Record:
    """The requested fields (null when unset or unknown to the record) plus ``id``."""
    picked = {name: copy.deepcopy(record.get(name)) for name in fields}
    picked["id"] = record["id"]
    return picked


def _time_of(record: Record, key: str) -> datetime:
    return parse_time(str(record[key])) or datetime.min.replace(tzinfo=UTC)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _positive(text: str, name: str, maximum: int | None) -> int:
    if not text.isdigit() or int(text) < 1 or (maximum is not None and int(text) > maximum):
        raise _error("INVALID_DATA", "the given value is invalid", param_name=name)
    return int(text)
