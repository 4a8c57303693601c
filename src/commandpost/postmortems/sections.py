"""The sections of a postmortem (guide §5-3), the hint each shows while empty, and which of them are still
empty: a postmortem becomes Final, and stays Final through edits, only with every section filled."""

from __future__ import annotations

SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"),
    ("user_impact", "User impact"),
    ("business_impact", "Business impact"),
    ("timeline", "Timeline"),
    ("root_cause", "Root cause — five whys"),
    ("technical_factor", "Technical factor"),
    ("process_factor", "Process factor"),
    ("detection", "Detection"),
    ("went_well", "Went well"),
    ("went_poorly", "Went poorly"),
    ("got_lucky", "Where we got lucky"),
)
SECTION_NAMES: tuple[str, ...] = tuple(name for name, _ in SECTIONS)
SECTION_TITLES: dict[str, str] = dict(SECTIONS)
REQUIRED_SECTIONS: tuple[str, ...] = SECTION_NAMES
"""Every section must say something before Final ("nothing" is an answer; an empty section is not)."""

HINTS: dict[str, str] = {
    "summary": "Three lines: what happened, for how long, who was impacted.",
    "user_impact": "In numbers, measured not guessed: failed requests, affected users or merchants.",
    "business_impact": "E.g. N charging delays; data consistency maintained or lost.",
    "timeline": "Transcribed from the live document.",
    "root_cause": (
        "Ask why five times, each answer the cause of the one before:\n"
        "1. Why did the symptom happen?\n2. Why …?\n3. Why …?\n4. Why …?\n5. Why …?\n"
        "The subject is the system or the process, never a person: not 'A deleted it' "
        "but 'there was no guard preventing deletion'."
    ),
    "technical_factor": "The technical condition that let it happen (a missing limit, guard, alert…).",
    "process_factor": "The process condition that let it happen (review, runbook, rollout, ownership…).",
    "detection": "How it was noticed. If not by monitoring, that itself is an action item.",
    "went_well": "What helped the response.",
    "went_poorly": "What slowed or hurt the response (about systems and processes, not people).",
    "got_lucky": "Where we were saved by chance — next, into a mechanism that does not rely on luck.",
}
MAX_SECTION = 20_000


def empty_sections(sections: dict[str, str]) -> list[str]:
    return [name for name in REQUIRED_SECTIONS if not (sections.get(name) or "").strip()]
