"""Escalation: page the on-call, escalate without an ack, stop on ack or resolve (guide §4, §6-2)."""
