"""What commandpost uses of detect-secrets beyond its documented API (issue 20, item 11).

``security/detectors.py`` reads plugins' ``denylist`` patterns, the keyword plugin's regex tables,
the high-entropy plugins' entropy limits and three heuristic filters — module-level names a minor
release may move. pyproject pins ``detect-secrets`` below its next minor; before raising that pin,
this test says whether those internals are still where the redaction expects them.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

from commandpost.security import detectors

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _pin() -> Requirement:
    deps = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    return next(r for r in map(Requirement, deps) if r.name == "detect-secrets")


def test_the_pin_stops_below_the_next_minor_and_the_installed_version_is_inside_it():
    pin = _pin()
    upper = [s for s in pin.specifier if s.operator == "<"]
    assert len(upper) == 1 and re.fullmatch(r"\d+\.\d+", upper[0].version), pin
    assert pin.specifier.contains(version("detect-secrets"))


def test_every_regex_plugin_still_has_a_denylist_of_compiled_patterns():
    plugins = importlib.import_module("detect_secrets.plugins")
    for name in detectors.PLUGIN_KINDS:
        found = [
            getattr(importlib.import_module(f"{plugins.__name__}.{module}"), name, None)
            for module in _plugin_modules()
        ]
        cls = next((c for c in found if c is not None), None)
        assert cls is not None, f"detect_secrets.plugins no longer has {name}"
        if name in ("KeywordDetector", "Base64HighEntropyString", "HexHighEntropyString"):
            continue
        assert cls.denylist and all(isinstance(p, re.Pattern) for p in cls.denylist), name
    assert detectors._regex_plugin_rules()  # and the redaction builds its rules from them


def _plugin_modules() -> list[str]:
    from pkgutil import iter_modules

    import detect_secrets.plugins as plugins

    return [m.name for m in iter_modules(plugins.__path__)]


def test_the_keyword_tables_entropy_limits_and_heuristics_are_where_they_were():
    from detect_secrets.filters.heuristic import (
        is_prefixed_with_dollar_sign,
        is_sequential_string,
        is_templated_secret,
    )
    from detect_secrets.plugins import keyword
    from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString, HexHighEntropyString
    from detect_secrets.plugins.jwt import JwtTokenDetector

    assert all(
        isinstance(p, re.Pattern) and isinstance(g, int)
        for p, g in keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP.items()
    )
    assert keyword.REGEX_BY_FILETYPE and all(isinstance(t, dict) for t in keyword.REGEX_BY_FILETYPE.values())
    b64, hexa = Base64HighEntropyString(), HexHighEntropyString()
    assert b64.calculate_shannon_entropy("aaaa") == 0 < b64.entropy_limit
    assert 0 < hexa.entropy_limit < b64.entropy_limit
    assert is_templated_secret("{password}") and is_prefixed_with_dollar_sign("$TOKEN")
    assert is_sequential_string("ABCDEFGHIJKLMNOPQRSTUVWXYZ") and not is_sequential_string("q8Zr2mVx")
    assert callable(JwtTokenDetector.is_formally_valid)
