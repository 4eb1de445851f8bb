# myapp/tasks.py with Huey's Django integration: "manage.py run_huey" runs it every 5 minutes.
# settings.py: INSTALLED_APPS += ["huey.contrib.djhuey"]; HUEY = {...} (a RedisHuey by default)
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from zoho_tokens.tasks import refresh_expiring


@db_periodic_task(crontab(minute="*/5"))
def refresh_zoho_tokens():
    return refresh_expiring(within=600).as_dict()
