"""``trackers:`` in commandpost.yaml: each tracker's section is checked where it is written, a default
must name a configured tracker, and no token has a place there (tokens live in the environment)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from commandpost.policy.opsfiles import OrgSettings


def _org(trackers: object) -> OrgSettings:
    return OrgSettings.model_validate({"org": "Example", "trackers": trackers})


def test_every_tracker_can_be_configured_and_defaults_apply() -> None:
    org = _org(
        {
            "default": "jira",
            "github": {"repo": "acme/payments"},
            "gitlab": {"project": "acme/platform/payments"},
            "jira": {"base_url": "https://acme.atlassian.net", "project": "OPS", "email": "bot@acme.example"},
            "linear": {"team_id": "9cfb482a-81e3-4154-b5b9-2c805e70a02d"},
        }
    )
    trackers = org.trackers
    assert trackers.default == "jira"
    assert trackers.github is not None and trackers.github.base_url == "https://api.github.com"
    assert trackers.gitlab is not None and trackers.gitlab.base_url == "https://gitlab.com"
    assert trackers.jira is not None and trackers.jira.issue_type == "Task"
    assert trackers.linear is not None and trackers.linear.base_url == "https://api.linear.app"
    assert OrgSettings.model_validate({"org": "Example"}).trackers.default is None  # none: the feature is off


@pytest.mark.parametrize(
    ("trackers", "says"),
    [
        ({"default": "github"}, "default: github has no trackers.github section"),
        ({"default": "bugzilla"}, "default"),
        ({"github": {"repo": "payments"}}, "repo"),
        ({"github": {"repo": "acme/payments", "token": "ghp_x"}}, "token"),  # a token has no place here
        ({"jira": {"base_url": "https://acme.atlassian.net", "project": "ops", "email": "b@x"}}, "project"),
        ({"jira": {"project": "OPS", "email": "bot@acme.example"}}, "base_url"),
        ({"gitlab": {"project": "acme/p", "base_url": "ftp://gitlab.example"}}, "base_url"),
        ({"linear": {"team_id": ""}}, "team_id"),
    ],
)
def test_a_wrong_section_is_refused_naming_the_field(trackers: object, says: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _org(trackers)
    assert says in str(refused.value)
