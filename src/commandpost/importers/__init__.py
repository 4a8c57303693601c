"""Importers from the tools teams leave: PagerDuty, Opsgenie and Grafana OnCall (docs/migrate.md).

Each vendor module reads the vendor's REST API responses — saved as JSON files or read live — and
returns an :class:`~commandpost.importers.result.ImportResult`; :mod:`.folder` writes it as an ops
folder that ``commandpost check`` accepts, with a report of what could not be mapped. Nothing here
touches a database: an import is files in, files out. It sits in the top layer, beside backup, and
no domain imports it.
"""
