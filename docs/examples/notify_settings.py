"""Notifications to the admins by mail and to a Slack channel (an incoming webhook).

Merge this into your ``ZOHO_TOKENS`` setting. Slack's incoming webhooks read the ``text``
field of the JSON body, so the URL Slack gives you works as it is.
"""

import os

NOTIFY_SETTINGS = {
    "NOTIFY": ["mail_admins", "webhook"],
    # https://api.slack.com/messaging/webhooks: "Add New Webhook to Workspace"
    "WEBHOOK_URL": os.environ.get("ZOHO_TOKENS_WEBHOOK_URL"),
    # Any long random string; your own receivers verify the signature with it.
    "WEBHOOK_SECRET": os.environ.get("ZOHO_TOKENS_WEBHOOK_SECRET"),
    "WEBHOOK_TIMEOUT": 5,  # seconds per attempt
    "WEBHOOK_RETRIES": 3,  # after 1 s, 2 s, 4 s
}
