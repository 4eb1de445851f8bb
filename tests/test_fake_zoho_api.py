"""The fake CRM API over plain HTTP: every SDK major's paths, Zoho's error shapes, per-org data."""

from __future__ import annotations

import pytest
import requests

from zoho_tokens.testing import FakeZoho


def bearer(fake: FakeZoho, **user) -> dict[str, str]:
    access = fake.issue_access_token(fake.add_refresh_token(**user))
    return {"Authorization": f"Zoho-oauthtoken {access}"}


def call(fake: FakeZoho, method: str, path: str, headers: dict, **kwargs) -> requests.Response:
    return requests.request(method, fake.url + path, headers=headers, timeout=5, **kwargs)


@pytest.mark.parametrize("version", ["v6", "v7", "v8"])
def test_every_sdk_major_gets_its_own_paths(fake_zoho, version):
    auth = bearer(fake_zoho, email="ann@example.com", zgid="700000042")
    fake_zoho.add_record("Leads", Last_Name="Ng")

    users = call(fake_zoho, "GET", f"/crm/{version}/users?type=CurrentUser", auth)
    org = call(fake_zoho, "GET", f"/crm/{version}/org", auth)
    fields = call(fake_zoho, "GET", f"/crm/{version}/settings/fields?module=Leads", auth)
    leads = call(fake_zoho, "GET", f"/crm/{version}/Leads?fields=Last_Name", auth)

    assert users.json()["users"][0]["email"] == "ann@example.com"
    assert org.json()["org"][0]["zgid"] == "700000042"
    last_name = next(f for f in fields.json()["fields"] if f["api_name"] == "Last_Name")
    assert last_name["system_mandatory"] is True
    assert [r["Last_Name"] for r in leads.json()["data"]] == ["Ng"]


def test_unknown_paths_keep_zoho_s_invalid_url_pattern(fake_zoho):
    auth = bearer(fake_zoho)
    for path in ("/crm/v5/users", "/crm/v9/Leads", "/crm/v8/Leads/1/Notes/2", "/crm/v8/Leads/abc"):
        response = call(fake_zoho, "GET", path, auth)
        assert response.status_code == 404, path
        assert response.json()["code"] == "INVALID_URL_PATTERN"


def test_records_errors_have_zoho_s_shapes(fake_zoho):
    auth = bearer(fake_zoho)

    no_fields = call(fake_zoho, "GET", "/crm/v8/Leads", auth)
    assert no_fields.status_code == 400
    assert no_fields.json() == {
        "code": "REQUIRED_PARAM_MISSING",
        "details": {"param_name": "fields"},
        "message": "One of the expected parameter is missing",
        "status": "error",
    }
    unknown = call(fake_zoho, "GET", "/crm/v8/Widgets?fields=Name", auth)
    assert (unknown.status_code, unknown.json()["code"]) == (400, "INVALID_MODULE")
    too_many = call(fake_zoho, "GET", "/crm/v8/Leads?fields=Last_Name&per_page=201", auth)
    assert too_many.json()["details"] == {"param_name": "per_page"}
    patch = call(fake_zoho, "PATCH", "/crm/v8/Leads", auth, json={"data": [{}]})
    assert patch.json()["code"] == "INVALID_REQUEST_METHOD"
    no_token = call(fake_zoho, "GET", "/crm/v8/Leads?fields=Last_Name", {})
    assert (no_token.status_code, no_token.json()["code"]) == (401, "INVALID_TOKEN")
    wrong = {"Authorization": "Zoho-oauthtoken 1000.nope"}
    assert call(fake_zoho, "POST", "/crm/v8/Leads", wrong, json={"data": []}).status_code == 401
    assert fake_zoho.records("Leads") == []


def test_a_partly_failed_write_is_a_207_with_one_answer_per_record(fake_zoho):
    auth = bearer(fake_zoho)
    data = [
        {"Deal_Name": "Ok", "Stage": "Qualification"},
        {"Deal_Name": "No stage"},
        {"Deal_Name": "Bad account", "Stage": "Qualification", "Account_Name": {"id": "42"}},
        {"Deal_Name": "Bad amount", "Stage": "Qualification", "Amount": "lots"},
    ]

    response = call(fake_zoho, "POST", "/crm/v8/Deals", auth, json={"data": data})

    assert response.status_code == 207
    ok, no_stage, bad_account, bad_amount = response.json()["data"]
    assert ok["code"] == "SUCCESS"
    assert set(ok["details"]) == {
        "id",
        "Created_Time",
        "Modified_Time",
        "Created_By",
        "Modified_By",
    }
    assert no_stage == {
        "code": "MANDATORY_NOT_FOUND",
        "details": {"api_name": "Stage", "json_path": "$.data[1].Stage"},
        "message": "required field not found",
        "status": "error",
    }
    assert bad_account["code"] == "INVALID_DATA"
    assert bad_account["details"]["api_name"] == "Account_Name"
    assert bad_amount["details"]["expected_data_type"] == "double"
    assert [d["Deal_Name"] for d in fake_zoho.records("Deals")] == ["Ok"]


def test_put_and_delete_by_id_and_unknown_ids(fake_zoho):
    auth = bearer(fake_zoho)
    lead = fake_zoho.add_record("Leads", Last_Name="Ng", Email="ng@example.com")

    cleared = call(
        fake_zoho, "PUT", f"/crm/v8/Leads/{lead}", auth, json={"data": [{"Email": None}]}
    )
    blank = call(
        fake_zoho, "PUT", "/crm/v8/Leads", auth, json={"data": [{"id": lead, "Last_Name": ""}]}
    )
    missing = call(fake_zoho, "PUT", "/crm/v8/Leads", auth, json={"data": [{"Last_Name": "X"}]})
    ghost = call(fake_zoho, "GET", "/crm/v8/Leads/123", auth)

    assert cleared.status_code == 200
    assert blank.json()["data"][0]["code"] == "MANDATORY_NOT_FOUND"
    assert missing.json()["data"][0]["details"]["api_name"] == "id"
    assert ghost.status_code == 204
    one = call(fake_zoho, "GET", f"/crm/v8/Leads/{lead}", auth).json()["data"][0]
    assert (one["Last_Name"], one["Email"]) == ("Ng", None)

    assert call(fake_zoho, "DELETE", "/crm/v8/Leads", auth).json()["details"] == {
        "param_name": "ids"
    }
    gone = call(fake_zoho, "DELETE", f"/crm/v8/Leads/{lead}", auth)
    assert gone.json()["data"][0]["details"] == {"id": lead}
    again = call(fake_zoho, "DELETE", f"/crm/v8/Leads/{lead}", auth)
    assert (again.status_code, again.json()["data"][0]["code"]) == (400, "INVALID_DATA")


def test_records_belong_to_the_caller_s_org(fake_zoho):
    acme = bearer(fake_zoho, email="ann@acme.example", org_id="800000001")
    globex = bearer(
        fake_zoho, email="hank@globex.example", user_id="4000000000777", org_id="800000002"
    )

    created = call(
        fake_zoho, "POST", "/crm/v8/Accounts", acme, json={"data": [{"Account_Name": "Acme"}]}
    )
    account_id = created.json()["data"][0]["details"]["id"]

    assert call(fake_zoho, "GET", "/crm/v8/Accounts?fields=Account_Name", globex).status_code == 204
    assert call(fake_zoho, "GET", f"/crm/v8/Accounts/{account_id}", globex).status_code == 204
    linked = {"Last_Name": "X", "Account_Name": {"id": account_id}}
    refused = call(fake_zoho, "POST", "/crm/v8/Contacts", globex, json={"data": [linked]})
    assert refused.json()["data"][0]["code"] == "INVALID_DATA"
    assert [r["Account_Name"] for r in fake_zoho.records("Accounts", org_id="800000001")] == [
        "Acme"
    ]
    assert fake_zoho.records("Accounts", org_id="800000002") == []


def test_owner_must_be_a_user_of_the_org(fake_zoho):
    auth = bearer(fake_zoho, email="ann@example.com", user_id="4000000000042")
    bob = fake_zoho.add_user("bob@example.com", user_id="4000000000043")

    given = {"Last_Name": "Ng", "Owner": {"id": bob.user_id}}
    ok = call(fake_zoho, "POST", "/crm/v8/Leads", auth, json={"data": [given]})
    bad = {"Last_Name": "Ng", "Owner": {"id": "4000000009999"}}
    refused = call(fake_zoho, "POST", "/crm/v8/Leads", auth, json={"data": [bad]})

    assert ok.status_code == 201
    assert refused.status_code == 400
    [lead] = fake_zoho.records("Leads")
    assert lead["Owner"]["email"] == "bob@example.com"
    assert lead["Created_By"]["email"] == "ann@example.com"


def test_add_record_refuses_what_zoho_would(fake_zoho):
    with pytest.raises(ValueError, match="MANDATORY_NOT_FOUND"):
        fake_zoho.add_record("Leads", Email="x@example.com")
    with pytest.raises(ValueError, match="no module 'Widgets'"):
        fake_zoho.add_record("Widgets", Name="x")
    seeded = fake_zoho.add_record(
        "leads", Last_Name="Old", Created_Time="2020-01-01T00:00:00+00:00"
    )
    [lead] = fake_zoho.records("Leads")
    assert (lead["id"], lead["Modified_Time"]) == (seeded, "2020-01-01T00:00:00+00:00")
    assert lead["Owner"]["email"] == "user@example.com"


def test_sorting_and_paging_parameters(fake_zoho):
    auth = bearer(fake_zoho)
    clock = [1_795_000_000.0]
    fake_zoho.wall_clock = lambda: clock[0]
    first = fake_zoho.add_record("Leads", Last_Name="A")
    clock[0] += 10
    second = fake_zoho.add_record("Leads", Last_Name="B")
    clock[0] += 10
    call(fake_zoho, "PUT", f"/crm/v8/Leads/{first}", auth, json={"data": [{"City": "Oslo"}]})

    def ids(query: str) -> list[str]:
        body = call(fake_zoho, "GET", f"/crm/v8/Leads?fields=Last_Name&{query}", auth).json()
        return [r["id"] for r in body["data"]]

    assert ids("") == [second, first]
    assert ids("sort_order=asc") == [first, second]
    assert ids("sort_by=Modified_Time&sort_order=desc") == [first, second]
    assert ids(f"ids={second}") == [second]
    bad = call(fake_zoho, "GET", "/crm/v8/Leads?fields=Last_Name&sort_by=City", auth)
    assert bad.json()["details"] == {"param_name": "sort_by"}
    info = call(fake_zoho, "GET", "/crm/v8/Leads?fields=Last_Name&per_page=1", auth).json()["info"]
    assert (info["per_page"], info["count"], info["page"], info["more_records"]) == (1, 1, 1, True)
