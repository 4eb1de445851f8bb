# test_leads.py: your CRM code against the fake's records API
import pytest
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api import ParameterMap
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.record import (
    BodyWrapper,
    GetRecordsParam,
    Record,
    RecordOperations,
)

from zoho_tokens.store import DjangoTokenStore


@pytest.mark.django_db
def test_leads(fake_zoho, fake_zoho_settings, tmp_path):
    fake_zoho.add_record("Leads", Last_Name="Ng", Email="ng@example.com")  # seed
    Initializer.initialize(
        environment=DataCenter.Environment(fake_zoho.url, fake_zoho.token_url, fake_zoho.url),
        token=OAuthToken(
            client_id="1000.TEST", client_secret="test-secret", grant_token=fake_zoho.add_grant()
        ),
        store=DjangoTokenStore(),
        resource_path=str(tmp_path),
    )

    params = ParameterMap()
    params.add(GetRecordsParam.fields, "Last_Name,Email")  # Zoho requires `fields` to list
    data = RecordOperations("Leads").get_records(params).get_object().get_data()
    assert [lead.get_key_value("Last_Name") for lead in data] == ["Ng"]

    lead = Record()
    lead.add_key_value("Last_Name", "Okafor")
    body = BodyWrapper()
    body.set_data([lead])
    assert RecordOperations("Leads").create_records(body).get_status_code() == 201
    assert [r["Last_Name"] for r in fake_zoho.records("Leads")] == ["Ng", "Okafor"]
