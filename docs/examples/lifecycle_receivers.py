"""Your own reaction to a connection's life: connect receivers in your AppConfig.ready()."""

from django.dispatch import receiver

from zoho_tokens.signals import token_invalidated, token_recovered, token_refresh_failed

EVENTS: list[str] = []  # stands for your pager, ticket system or status page


@receiver(token_refresh_failed)
def on_refresh_failed(sender, token, reason, zoho_error, attempt, backoff_until, **kwargs):
    if attempt == 1:  # the connection just started failing (later attempts count up)
        EVENTS.append(f"failing {token.pk} {reason} {zoho_error}")


@receiver(token_invalidated)
def on_invalidated(sender, token, reason, zoho_error, **kwargs):
    EVENTS.append(f"dead {token.pk} {zoho_error}")  # ask token.user_name to reconnect


@receiver(token_recovered)
def on_recovered(sender, token, previous, failures, **kwargs):
    EVENTS.append(f"recovered {token.pk} from {previous} after {failures}")
