"""Keep the Zoho CRM Python SDK's OAuth tokens in the Django database."""

__version__ = "0.1.0"
