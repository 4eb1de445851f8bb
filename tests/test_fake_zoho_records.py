"""The fake Zoho's records API through the real SDK 8_0, the real store and real HTTP."""

from __future__ import annotations

import datetime

import pytest
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api import HeaderMap, ParameterMap
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.record import (
    APIException,
    BodyWrapper,
    DeleteRecordsParam,
    GetRecordsHeader,
    GetRecordsParam,
    Record,
    RecordOperations,
    ResponseWrapper,
    SuccessResponse,
)
from zohocrmsdk.src.com.zoho.crm.api.util import Choice

from zoho_tokens.store import DjangoTokenStore

pytestmark = pytest.mark.django_db(transaction=True)

ANN = {"email": "ann@example.com", "zgid": "700000042", "user_id": "4000000000042"}


@pytest.fixture
def crm(fake_zoho, zoho_env, sdk_resource_path, zoho_settings_for):
    """The SDK initialised with DjangoTokenStore, logged in as Ann through a grant code."""
    code = fake_zoho.add_grant(**ANN)
    token = OAuthToken(client_id="1000.CID", client_secret="csecret", grant_token=code)
    Initializer.initialize(
        environment=zoho_env,
        token=token,
        store=DjangoTokenStore(),
        resource_path=sdk_resource_path,
    )
    return fake_zoho


def list_params(fields: str = "Last_Name,Email", **extra) -> ParameterMap:
    params = ParameterMap()
    params.add(GetRecordsParam.fields, fields)
    for name, value in extra.items():
        params.add(getattr(GetRecordsParam, name), value)
    return params


def get_leads(params=None, headers=None):
    response = RecordOperations("Leads").get_records(params or list_params(), headers)
    assert response is not None, "the SDK could not parse the fake's answer (see its log)"
    return response


def lead(**values) -> Record:
    record = Record()
    for name, value in values.items():
        record.add_key_value(name, value)
    return record


def write_body(*records: Record) -> BodyWrapper:
    body = BodyWrapper()
    body.set_data(list(records))
    return body


def test_get_records_returns_seeded_leads_with_zoho_shapes(crm):
    first = crm.add_record("Leads", Last_Name="Ng", Email="ng@example.com", Company="Acme")
    second = crm.add_record("Leads", Last_Name="Okafor")

    response = get_leads()

    assert response.get_status_code() == 200
    body = response.get_object()
    assert isinstance(body, ResponseWrapper)
    by_id = {str(r.get_id()): r for r in body.get_data()}
    assert set(by_id) == {first, second}
    assert by_id[first].get_key_value("Last_Name") == "Ng"
    assert by_id[first].get_key_value("Email") == "ng@example.com"
    assert by_id[first].get_key_value("Company") is None  # not asked for in fields
    info = body.get_info()
    assert (info.get_count(), info.get_page(), info.get_more_records()) == (2, 1, False)
    # Zoho's default order is id descending: newest first.
    assert [str(r.get_id()) for r in body.get_data()] == [second, first]
    assert crm.counters["fields"] >= 1  # the SDK read the module's field metadata first


def test_create_records_stores_them_and_answers_like_zoho(crm):
    response = RecordOperations("Leads").create_records(
        write_body(lead(Last_Name="Ng", First_Name="Mai", Email="mai@example.com"))
    )

    assert response.get_status_code() == 201
    result = response.get_object().get_data()[0]
    assert isinstance(result, SuccessResponse)
    assert result.get_code().get_value() == "SUCCESS"
    assert result.get_message().get_value() == "record added"
    details = result.get_details()
    assert isinstance(details["Created_Time"], datetime.datetime)
    assert details["Created_By"].get_id() == int(ANN["user_id"])

    [stored] = crm.records("Leads")
    assert stored["id"] == str(details["id"])
    assert stored["Full_Name"] == "Mai Ng"
    assert stored["Owner"] == {"name": "Ann Tester", "id": ANN["user_id"], "email": ANN["email"]}
    assert stored["Created_Time"].endswith("+00:00")


def test_update_and_delete_records(crm):
    keep = crm.add_record("Leads", Last_Name="Ng")
    drop = crm.add_record("Leads", Last_Name="Gone")

    update = lead(Lead_Status=Choice("Contacted"))  # the SDK wants Choice for picklists
    update.set_id(int(keep))
    response = RecordOperations("Leads").update_records(write_body(update))
    assert response.get_status_code() == 200
    assert response.get_object().get_data()[0].get_message().get_value() == "record updated"

    single = lead(Email="ng@example.com")
    response = RecordOperations("Leads").update_record(int(keep), write_body(single))
    assert response.get_status_code() == 200

    params = ParameterMap()
    params.add(DeleteRecordsParam.ids, f"{drop},999")
    response = RecordOperations("Leads").delete_records(params)
    assert response.get_status_code() == 207  # one deleted, one unknown id
    results = response.get_object().get_data()
    assert isinstance(results[0], SuccessResponse)
    assert results[0].get_message().get_value() == "record deleted"
    assert isinstance(results[1], APIException)
    assert results[1].get_code().get_value() == "INVALID_DATA"

    fetched = RecordOperations("Leads").get_record(int(keep)).get_object().get_data()[0]
    assert fetched.get_key_value("Email") == "ng@example.com"
    assert fetched.get_key_value("Lead_Status").get_value() == "Contacted"

    [left] = crm.records("Leads")
    assert (left["id"], left["Lead_Status"], left["Email"]) == (keep, "Contacted", "ng@example.com")

    assert RecordOperations("Leads").delete_record(int(keep)).get_status_code() == 200
    assert crm.records("Leads") == []
    assert get_leads().get_status_code() == 204  # Zoho's answer for an empty list


def test_paging_reports_more_records(crm):
    ids = [crm.add_record("Leads", Last_Name=f"Lead {n}") for n in range(5)]

    pages = []
    for page in (1, 2, 3):
        body = get_leads(list_params(page=page, per_page=2, sort_order="asc")).get_object()
        info = body.get_info()
        pages.append(([str(r.get_id()) for r in body.get_data()], info.get_more_records()))

    assert pages == [(ids[0:2], True), (ids[2:4], True), (ids[4:], False)]
    assert get_leads(list_params(page=4, per_page=2)).get_status_code() == 204


def test_if_modified_since_answers_304_until_something_changes(crm):
    clock = [1_795_000_000.0]
    crm.wall_clock = lambda: clock[0]
    record_id = crm.add_record("Leads", Last_Name="Ng")
    crm.add_record("Leads", Last_Name="Unchanged")
    seen = datetime.datetime.fromtimestamp(clock[0], datetime.UTC)

    headers = HeaderMap()
    headers.add(GetRecordsHeader.if_modified_since, seen)
    assert get_leads(headers=headers).get_status_code() == 304

    clock[0] += 60
    update = lead(Last_Name="Ng-Smith")
    update.set_id(int(record_id))
    assert RecordOperations("Leads").update_records(write_body(update)).get_status_code() == 200

    response = get_leads(headers=headers)
    assert response.get_status_code() == 200
    assert [str(r.get_id()) for r in response.get_object().get_data()] == [record_id]


def test_missing_mandatory_field_is_refused(crm):
    response = RecordOperations("Leads").create_records(write_body(lead(Email="x@example.com")))

    assert response.get_status_code() == 400
    error = response.get_object().get_data()[0]
    assert isinstance(error, APIException)
    assert error.get_code().get_value() == "MANDATORY_NOT_FOUND"
    assert error.get_details()["api_name"] == "Last_Name"
    assert crm.records("Leads") == []


def test_invalid_data_is_refused(crm):
    response = RecordOperations("Leads").create_records(
        write_body(lead(Last_Name="Ng", Email="not-an-email"))
    )

    assert response.get_status_code() == 400
    error = response.get_object().get_data()[0]
    assert error.get_code().get_value() == "INVALID_DATA"
    assert error.get_details()["api_name"] == "Email"


def test_a_wrong_access_token_gets_401(crm):
    crm.add_record("Leads", Last_Name="Ng")
    get_leads()  # fields metadata cached, access token stored
    crm.revoke_all()

    response = get_leads()

    assert response.get_status_code() == 401
    error = response.get_object()
    assert isinstance(error, APIException)
    assert error.get_code().get_value() == "INVALID_TOKEN"


def test_lookups_link_records_of_the_same_org(crm):
    account = crm.add_record("Accounts", Account_Name="Acme")

    deal = lead(Deal_Name="Big one", Stage=Choice("Qualification"), Amount=1200.5)
    deal.add_key_value("Account_Name", lead(id=int(account)))
    response = RecordOperations("Deals").create_records(write_body(deal))

    assert response.get_status_code() == 201, response.get_object().get_data()[0].get_details()
    [stored] = crm.records("Deals")
    assert stored["Account_Name"] == {"name": "Acme", "id": account}
    assert stored["Amount"] == 1200.5
