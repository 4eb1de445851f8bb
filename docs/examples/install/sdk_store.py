# Give the SDK the store yourself (use_zoho does this for you, per thread and tenant)
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api.dc import USDataCenter
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

from zoho_tokens.store import DjangoTokenStore

Initializer.initialize(
    environment=USDataCenter.PRODUCTION(),
    token=OAuthToken(user_signature=UserSignature("ann@example.com:700000001")),
    store=DjangoTokenStore(),
)
