"""Incidents (guide §1, §2): lifecycle, severity, roles with explicit handover, timeline, comms."""
