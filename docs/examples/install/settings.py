# settings.py, appended: the app, its settings from the environment, the web flow's login
import os

INSTALLED_APPS += ["zoho_tokens"]

ZOHO_TOKENS = {
    # Your Zoho API client (https://api-console.zoho.com) and your Zoho account's data
    # center: us, eu, in, au, cn, jp, uk, ca or sa.
    "CLIENT_ID": os.environ.get("ZOHO_CLIENT_ID"),
    "CLIENT_SECRET": os.environ.get("ZOHO_CLIENT_SECRET"),
    "REDIRECT_URL": os.environ.get("ZOHO_REDIRECT_URL"),
    "DATA_CENTER": os.environ.get("ZOHO_DATA_CENTER", "us"),
    # A dedicated Fernet key that encrypts the tokens; a list, or one comma-separated
    # string ("new,old" while rotating keys).
    "ENCRYPTION_KEYS": os.environ.get("ZOHO_TOKENS_ENCRYPTION_KEYS", ""),
}

# The "Connect Zoho CRM" page asks staff to log in through the admin.
LOGIN_URL = "admin:login"
