"""``commandpost demo``: a throw-away server with a 90-day history, then the guide's payment-webhook
scenario played live through the real endpoints while you watch it in the browser.

Everything goes through the real code: the history is written by the services with a frozen clock
moved step by step and real engine passes (so pages, escalations and postmortem drafts happen as
they would); the scenario posts an Alertmanager alert to the real intake endpoint and every person
acts through the API with their own token, while the engine pages on the console. The server runs
on a *fast clock* (``--speed`` × real time), so a 15-minute escalation takes 15 s at ``--speed 60``.
SLO counts for the charge-success SLO are pushed every 6 hours of the history, worse around incidents.
"""
