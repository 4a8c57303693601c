"""The model of ``escalation/*.yaml``: an escalation policy, each severity's route and what the
names in it are."""

from __future__ import annotations

from pydantic import Field, model_validator

from commandpost.policy.durations import Duration
from commandpost.policy.ops_base import NameList, SeverityName, Strict


class EscalationLevel(Strict):
    targets: NameList = Field(min_length=1)
    after: Duration | None = None


class SeverityRoute(Strict):
    """One severity's routing, in the guide's shape (page / escalate_after / then / notify) or as levels."""

    page: NameList = Field(default_factory=list)
    escalate_after: Duration | None = None
    then: NameList = Field(default_factory=list)
    notify: NameList = Field(default_factory=list)
    levels: list[EscalationLevel] = Field(default_factory=list)
    repeat: int = Field(default=0, ge=0, le=10)

    @model_validator(mode="after")
    def _shape(self) -> SeverityRoute:
        if self.levels and (self.page or self.then or self.escalate_after):
            raise ValueError("use either page/escalate_after/then or levels, not both")
        if self.then and not self.escalate_after:
            raise ValueError("'then' needs 'escalate_after' (how long to wait for an ack)")
        if self.then and not self.page:
            raise ValueError("'then' needs 'page' (who is paged first)")
        if not (self.page or self.levels or self.notify):
            raise ValueError("a severity route needs page, levels or notify")
        return self

    def escalation_levels(self) -> list[EscalationLevel]:
        """The guide's shape as levels: page now, then everyone in ``then`` after ``escalate_after``."""
        if self.levels:
            return list(self.levels)
        levels = []
        if self.page:
            levels.append(EscalationLevel(targets=self.page, after=None))
        if self.then:
            levels.append(EscalationLevel(targets=self.then, after=self.escalate_after))
        return levels

    def all_targets(self) -> list[str]:
        names = [*self.page, *self.then, *self.notify]
        for level in self.levels:
            names.extend(level.targets)
        return names


class Target(Strict):
    """What a name in a policy is: exactly one of schedule(+layer), person, team, channel, status_page."""

    schedule: str | None = None
    layer: str | None = None
    person: str | None = None
    team: str | None = None
    channel: str | None = Field(default=None, description="a team whose channel receives it")
    status_page: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        kinds = [k for k in ("schedule", "person", "team", "channel") if getattr(self, k)]
        if self.status_page:
            kinds.append("status_page")
        if len(kinds) != 1:
            raise ValueError(
                "a target is exactly one of: {schedule, layer}, person, team, channel, status_page: true"
            )
        if self.layer and not self.schedule:
            raise ValueError("'layer' goes with 'schedule'")
        return self

    @property
    def kind(self) -> str:
        for k in ("schedule", "person", "team", "channel"):
            if getattr(self, k):
                return k
        return "status_page"


class OncallNote(Strict):
    rotation: str | None = None
    handoff: str | None = None
    compensation: str | None = None


class EscalationPolicy(Strict):
    name: str = ""
    service: str
    severity_routing: dict[SeverityName, SeverityRoute]
    oncall: OncallNote | None = None
    targets: dict[str, Target] = Field(default_factory=dict)
