"""Imports every domain's models so Base.metadata knows every table (for Alembic and test setup)."""

from commandpost import public_url as server_models
from commandpost.alerts import models as alert_models
from commandpost.drills import models as drill_models
from commandpost.engine import models as engine_models
from commandpost.incidents import models as incident_models
from commandpost.metrics import models as metrics_models
from commandpost.notify import models as notify_models
from commandpost.oncall import models as oncall_models
from commandpost.paging import models as paging_models
from commandpost.policy import models as policy_models
from commandpost.postmortems import models as postmortem_models
from commandpost.postmortems import stars as postmortem_star_models
from commandpost.runbooks import models as runbook_models
from commandpost.security import models as security_models
from commandpost.security import users as user_models
from commandpost.slack import models as slack_models

__all__ = [
    "alert_models",
    "drill_models",
    "engine_models",
    "incident_models",
    "metrics_models",
    "notify_models",
    "oncall_models",
    "paging_models",
    "policy_models",
    "postmortem_models",
    "postmortem_star_models",
    "runbook_models",
    "security_models",
    "server_models",
    "slack_models",
    "user_models",
]
