"""The fake CRM's modules and fields: Leads, Contacts, Accounts and Deals.

The SDK reads ``/settings/fields?module=X`` before its first records call on a module and
converts every record value with that metadata, so the fake must describe its fields the way
Zoho does (``api_name``, ``data_type``, ``system_mandatory``, lookups, picklists). The same
specs validate what clients send, so a value the fake accepts is one Zoho would accept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

__all__ = ["FIELDS", "MODULES", "FieldSpec", "canonical_module", "field_json", "invalid_reason"]

SYSTEM_FIELDS = ("Created_Time", "Modified_Time", "Created_By", "Modified_By")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
JSON_TYPES = {
    "integer": "integer",
    "currency": "double",
    "double": "double",
    "boolean": "boolean",
    "lookup": "jsonobject",
    "ownerlookup": "jsonobject",
}


@dataclass(frozen=True)
class FieldSpec:
    """One field as Zoho's fields API describes it, reduced to what clients rely on."""

    api_name: str
    data_type: str
    mandatory: bool = False
    length: int = 255
    lookup: str | None = None
    values: tuple[str, ...] = ()
    read_only: bool = False

    @property
    def label(self) -> str:
        return self.api_name.replace("_", " ")


def _text(name: str, length: int = 255, *, mandatory: bool = False) -> FieldSpec:
    return FieldSpec(name, "text", mandatory=mandatory, length=length)


def _pick(name: str, *values: str, mandatory: bool = False) -> FieldSpec:
    return FieldSpec(name, "picklist", mandatory=mandatory, values=values)


LEAD_SOURCES = _pick(
    "Lead_Source",
    "-None-",
    "Advertisement",
    "Cold Call",
    "Employee Referral",
    "External Referral",
    "Online Store",
    "Partner",
    "Public Relations",
    "Seminar Partner",
    "Trade Show",
    "Web Download",
    "Web Research",
    "Chat",
)
INDUSTRIES = _pick(
    "Industry",
    "-None-",
    "ASP (Application Service Provider)",
    "Data/Telecom OEM",
    "ERP (Enterprise Resource Planning)",
    "Government/Military",
    "Large Enterprise",
    "Service Provider",
    "Small/Medium Enterprise",
    "Systems Integrator",
)
OWNER = FieldSpec("Owner", "ownerlookup")
EMAIL = FieldSpec("Email", "email", length=100)
PHONE = FieldSpec("Phone", "phone", length=30)
WEBSITE = FieldSpec("Website", "website")
OPT_OUT = FieldSpec("Email_Opt_Out", "boolean")
REVENUE = FieldSpec("Annual_Revenue", "currency")
DESCRIPTION = FieldSpec("Description", "textarea", length=32000)
FULL_NAME = FieldSpec("Full_Name", "text", read_only=True)
ACCOUNT = FieldSpec("Account_Name", "lookup", lookup="Accounts")
TRAILER = (
    FieldSpec("Created_Time", "datetime", read_only=True),
    FieldSpec("Modified_Time", "datetime", read_only=True),
    FieldSpec("Created_By", "ownerlookup", read_only=True),
    FieldSpec("Modified_By", "ownerlookup", read_only=True),
)

FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "Leads": (
        OWNER,
        _text("First_Name", 40),
        _text("Last_Name", 80, mandatory=True),
        FULL_NAME,
        _text("Company", 200),
        _text("Designation", 100),
        EMAIL,
        PHONE,
        FieldSpec("Mobile", "phone", length=30),
        WEBSITE,
        LEAD_SOURCES,
        _pick(
            "Lead_Status",
            "-None-",
            "Attempted to Contact",
            "Contact in Future",
            "Contacted",
            "Junk Lead",
            "Lost Lead",
            "Not Contacted",
            "Pre-Qualified",
            "Not Qualified",
        ),
        INDUSTRIES,
        FieldSpec("No_of_Employees", "integer"),
        REVENUE,
        OPT_OUT,
        _text("City", 100),
        _text("Country", 100),
        DESCRIPTION,
        *TRAILER,
    ),
    "Contacts": (
        OWNER,
        _text("First_Name", 40),
        _text("Last_Name", 80, mandatory=True),
        FULL_NAME,
        EMAIL,
        PHONE,
        FieldSpec("Mobile", "phone", length=30),
        _text("Title", 100),
        _text("Department", 100),
        ACCOUNT,
        LEAD_SOURCES,
        FieldSpec("Date_of_Birth", "date"),
        _text("Mailing_City", 100),
        _text("Mailing_Country", 100),
        OPT_OUT,
        DESCRIPTION,
        *TRAILER,
    ),
    "Accounts": (
        OWNER,
        _text("Account_Name", 200, mandatory=True),
        PHONE,
        WEBSITE,
        INDUSTRIES,
        FieldSpec("Employees", "integer"),
        REVENUE,
        _text("Billing_City", 100),
        _text("Billing_Country", 100),
        DESCRIPTION,
        *TRAILER,
    ),
    "Deals": (
        OWNER,
        _text("Deal_Name", 120, mandatory=True),
        ACCOUNT,
        FieldSpec("Contact_Name", "lookup", lookup="Contacts"),
        FieldSpec("Amount", "currency"),
        _pick(
            "Stage",
            "Qualification",
            "Needs Analysis",
            "Value Proposition",
            "Identify Decision Makers",
            "Proposal/Price Quote",
            "Negotiation/Review",
            "Closed Won",
            "Closed Lost",
            "Closed Lost to Competition",
            mandatory=True,
        ),
        FieldSpec("Closing_Date", "date"),
        FieldSpec("Probability", "integer"),
        LEAD_SOURCES,
        DESCRIPTION,
        *TRAILER,
    ),
}
MODULES: dict[str, str] = {
    "Leads": "Lead",
    "Contacts": "Contact",
    "Accounts": "Account",
    "Deals": "Deal",
}
#: Stable fake ids for modules (Zoho's ids are per org; one set is enough here).
MODULE_IDS = {name: str(4_000_000_002_175 + 2 * i) for i, name in enumerate(MODULES)}


def canonical_module(name: str) -> str | None:
    """Zoho matches module API names case-insensitively; return ours or None."""
    lowered = name.lower()
    return next((m for m in MODULES if m.lower() == lowered), None)


def field_json(module: str, index: int, spec: FieldSpec) -> dict[str, Any]:
    """One entry of ``/settings/fields``' answer, in the keys and types Zoho uses."""
    field_id = str(int(MODULE_IDS[module]) * 1000 + index)
    entry: dict[str, Any] = {
        "api_name": spec.api_name,
        "field_label": spec.label,
        "display_label": spec.label,
        "data_type": spec.data_type,
        "json_type": JSON_TYPES.get(spec.data_type, "string"),
        "system_mandatory": spec.mandatory,
        "custom_field": False,
        "read_only": spec.read_only,
        "field_read_only": spec.read_only,
        "visible": True,
        "length": spec.length,
        "id": field_id,
        "lookup": {},
        "pick_list_values": [
            {
                "display_value": value,
                "actual_value": value,
                "sequence_number": n,
                "type": "used",
                "id": f"{field_id}{n:03d}",
            }
            for n, value in enumerate(spec.values, 1)
        ],
    }
    if spec.lookup:
        entry["lookup"] = {
            "display_label": spec.label,
            "api_name": spec.api_name,
            "module": {"api_name": spec.lookup, "id": MODULE_IDS[spec.lookup]},
            "id": field_id + "1",
        }
    return entry


def invalid_reason(spec: FieldSpec, value: Any) -> str | None:
    """The ``expected_data_type`` Zoho would name if ``value`` does not fit, else None.

    Lookups are only checked for shape here; whether the id exists is the store's question.
    """
    kind = spec.data_type
    if kind in ("text", "textarea", "phone", "website", "picklist", "email"):
        if not isinstance(value, str) or len(value) > spec.length:
            return kind
        if kind == "email" and value and not EMAIL_RE.match(value):
            return kind
        if kind == "picklist" and spec.values and value not in spec.values:
            return kind
        return None
    if kind == "integer":
        return None if isinstance(value, int) and not isinstance(value, bool) else kind
    if kind in ("currency", "double"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else "double"
    if kind == "boolean":
        return None if isinstance(value, bool) else kind
    if kind == "date":
        return None if _parses(date.fromisoformat, value, 10) else kind
    if kind == "datetime":
        return None if _parses(datetime.fromisoformat, value, 19) else kind
    if kind in ("lookup", "ownerlookup"):
        ok = isinstance(value, dict) and str(value.get("id", "")).isdigit()
        return None if ok else "jsonobject"
    return None


def _parses(parse: Any, value: Any, min_length: int) -> bool:
    if not isinstance(value, str) or len(value) < min_length:
        return False
    try:
        parse(value)
    except ValueError:
        return False
    return True
