"""Similar past incidents on both databases: quality over the labelled set (precision@3, also reported
by ``make bench``), and the index following every write through its triggers."""

from __future__ import annotations

from sqlalchemy import select

from commandpost.incidents.models import Incident
from commandpost.postmortems.models import Postmortem
from commandpost.similar import service
from tests.similar_support import load, precision_at_3

FLOOR = 0.9
"""precision@3 measured 1.00 with the queries' alerts and 0.97 without, on both databases."""


def test_precision_at_3_on_the_labelled_set(sessions):
    with sessions() as s:
        labelled = load(s)
        s.commit()
        precision = precision_at_3(s, labelled)
    assert len(precision) == 13
    assert sum(precision.values()) / len(precision) >= FLOOR, precision


def test_precision_at_3_when_the_queries_are_declared_without_alerts(sessions):
    with sessions() as s:
        labelled = load(s, declared_queries=True)
        s.commit()
        precision = precision_at_3(s, labelled)
    assert sum(precision.values()) / len(precision) >= FLOOR, precision


def _scores(session, number):
    return {s.incident.number: s.score for s in service.similar(session, number=number, limit=100)}


def test_the_index_follows_edits_of_titles_and_postmortem_root_causes(sessions):
    with sessions() as s:
        n = load(s).numbers
        s.commit()
        x3 = s.scalars(select(Incident).where(Incident.number == n["x3"])).one()
        before = _scores(s, n["db4"]).get(n["x3"], 0.0)
        # x3 ("Orders export job failed") turns out to be about the disk, in its title and root cause
        x3.title = "orders-db disk full stopped the export"
        postmortem = s.scalars(select(Postmortem).where(Postmortem.incident_id == x3.id)).one()
        postmortem.sections = {"root_cause": "WAL files filled the orders-db primary disk volume."}
        s.commit()
        assert _scores(s, n["db4"])[n["x3"]] > before + 0.1
        # and a drill label takes an incident out of every answer
        x3.labels = {"drill": "TRUE"}
        s.commit()
        before = _scores(s, n["db4"]).get(n["x3"], 0.0)
