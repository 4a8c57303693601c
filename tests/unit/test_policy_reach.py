"""``commandpost check`` asks whether the people on call can be woken, and whether what people.yaml
names can be sent where check runs (push without an ntfy server, phones without a provider)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from commandpost.policy.loader import load_ops
from tests.paging_support import ops_variant


def _texts(result: Any) -> list[str]:
    return [str(f) for f in result.warnings]


def test_someone_on_call_with_no_way_to_wake_them_is_warned_about(tmp_path: Path) -> None:
    def people(data: dict[str, Any]) -> None:
        for person in data["people"]:
            if person["handle"] == "ken":
                person["contact"].pop("ntfy_topic")
                person.pop("notification_rules")

    warnings = _texts(load_ops(ops_variant(tmp_path, {"people.yaml": people})))
    assert len(warnings) == 1
    assert warnings[0].startswith("people.yaml:")
    assert (
        "ken is on call (payment-platform/primary, payment-platform/secondary) but no method can wake them "
        "at 3 a.m.: pages reach them by email, webhook; add contact.ntfy_topic (push) or contact.phone"
    ) in warnings[0]


def test_a_rule_naming_a_method_without_its_contact_is_warned_about(tmp_path: Path) -> None:
    def people(data: dict[str, Any]) -> None:
        mei = next(p for p in data["people"] if p["handle"] == "mei")
        mei["notification_rules"]["high"].append({"after": "5m", "methods": ["voice"]})

    warnings = _texts(load_ops(ops_variant(tmp_path, {"people.yaml": people})))
    assert [w.split(": ", 1)[1] for w in warnings] == [
        "mei: the high-urgency rule at 5m names voice, but contact has no phone: that step reaches nobody"
    ]


def test_push_and_phones_that_cannot_be_sent_where_check_runs(tmp_path: Path) -> None:
    def people(data: dict[str, Any]) -> None:
        data["people"][0]["contact"]["phone"] = "+819012345678"

    folder = ops_variant(tmp_path, {"people.yaml": people})
    assert _texts(load_ops(folder, push_configured=True, phones_configured=True)) == []
    off = _texts(load_ops(folder, push_configured=False, phones_configured=False))
    assert len(off) == 2
    assert (
        "push is off where this runs, but yuta, hana, ken, mei have a contact.ntfy_topic" in off[0] + off[1]
    )
    assert "SMS and voice are off where this runs, but yuta has a contact.phone" in off[0] + off[1]
    assert "configure Twilio or Vonage" in off[0] + off[1]
