"""Slack as the command post (issue 17): a channel per incident, the slash command, buttons, and
secret hygiene in the chat.

Face: none, no other domain imports slack (it sits at the top, beside metrics). Every module is
internal; only the edges (api, cli, the web pages) and the composition root reach them.
"""

__all__: list[str] = []
