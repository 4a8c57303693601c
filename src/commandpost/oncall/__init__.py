"""On-call: schedules and rotations -> who is on call at an instant; overrides; handoffs; iCal feeds."""
