"""The detectors behind ``security.redact``: detect-secrets' plugins, adapted to report *where*.

detect-secrets answers "which secret values are on this line", but redaction needs spans, and
its scan functions go through process-wide settings that are not safe to share between
threads. So this module runs each plugin's own compiled patterns with ``finditer`` and drives
the keyword and high-entropy plugins through their pure parts (regex tables, entropy
functions). Nothing here reads or writes detect-secrets' global settings, and nothing is
mutated after :func:`build` returns, so one detector set serves every thread.

Deliberate choices for free text (not source code):
- The public-IP plugin is off: addresses are what incident notes are made of.
- High-entropy strings are found without quotes, with detect-secrets' limits (base64 > 4.5,
  hex > 3.0), but hex shorter than 16 characters is left alone (short git SHAs, container
  ids), and so are UUIDs, sequential strings and values labelled as ids or digests
  (``trace_id=…``, ``commit …``, ``sha256:…``).
- Beyond detect-secrets: ``Authorization``/``Bearer`` credentials and secret-named URL query
  parameters, because incident notes are full of pasted curl commands.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from commandpost.security.cards import find_card_numbers

# When spans overlap, the more specific kind names the merged span.
ENTROPY, KEYWORD, SPECIFIC, BLOCK = 1, 2, 3, 4


class Hit(NamedTuple):
    start: int
    end: int
    kind: str
    rank: int


class Line(NamedTuple):
    """One line of text, and its lower-case form when that keeps every offset (ASCII), else None."""

    text: str
    lower: str | None

    @classmethod
    def of(cls, text: str) -> Line:
        return cls(text, text.lower() if text.isascii() else None)

    def may_contain(self, needles: tuple[str, ...], ignore_case: bool) -> bool:
        """A cheap gate: False only when none of ``needles`` occurs, so the pattern cannot match."""
        haystack = self.lower if ignore_case else self.text
        return not needles or haystack is None or any(map(haystack.__contains__, needles))


class LineDetector(Protocol):
    """Finds secrets in one line. ``needles``: literals one of which must occur (in lower case when
    ``ignore_case``) for the detector to find anything; the caller skips it where none does."""

    @property
    def needles(self) -> tuple[str, ...]: ...

    @property
    def ignore_case(self) -> bool: ...

    def __call__(self, text: Line) -> list[Hit]: ...


# Kind slugs per detect-secrets plugin; a tuple gives one kind per pattern of the plugin's denylist.
PLUGIN_KINDS: dict[str, str | tuple[str, ...]] = {
    "ArtifactoryDetector": "artifactory-token",
    "AWSKeyDetector": ("aws-access-key", "aws-secret-key"),
    "AzureStorageKeyDetector": "azure-storage-key",
    "BasicAuthDetector": "basic-auth-url",
    "CloudantDetector": "cloudant-key",
    "DiscordBotTokenDetector": "discord-bot-token",
    "GitHubTokenDetector": "github-token",
    "GitLabTokenDetector": "gitlab-token",
    "IbmCloudIamDetector": "ibm-cloud-iam-key",
    "IbmCosHmacDetector": "ibm-cos-hmac-key",
    "JwtTokenDetector": "jwt",
    "MailchimpDetector": "mailchimp-key",
    "NpmDetector": "npm-token",
    "OpenAIDetector": "openai-key",
    "PrivateKeyDetector": "private-key",
    "PypiTokenDetector": "pypi-token",
    "SendGridDetector": "sendgrid-key",
    "SlackDetector": ("slack-token", "slack-webhook"),
    "SoftlayerDetector": "softlayer-key",
    "SquareOAuthDetector": "square-oauth-secret",
    "StripeDetector": "stripe-key",
    "TelegramBotTokenDetector": "telegram-bot-token",
    "TwilioKeyDetector": "twilio-key",
}
# Plugins whose capture group is a prefix, not the secret: redact the whole match.
_WHOLE_MATCH = frozenset({"GitHubTokenDetector", "GitLabTokenDetector"})
# Literals without which none of a plugin's patterns can match: a substring test per line is far
# cheaper than ~50 regex scans. Lower case for the plugins whose patterns ignore case.
_ASSIGNMENT_WORDS = ("key", "pw", "pass", "token")
_NEEDLES: dict[str, tuple[str, ...]] = {
    "ArtifactoryDetector": ("AKC", "AP"),
    "AWSKeyDetector": ("A3T", "ABIA", "ACCA", "AKIA", "ASIA", "aws"),
    "AzureStorageKeyDetector": ("AccountKey=",),
    "BasicAuthDetector": ("://",),
    "CloudantDetector": (*_ASSIGNMENT_WORDS, "cloudant"),
    "DiscordBotTokenDetector": (".",),
    "GitHubTokenDetector": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    "GitLabTokenDetector": ("gl", "GR1348941"),
    "IbmCloudIamDetector": _ASSIGNMENT_WORDS,
    "IbmCosHmacDetector": ("secret",),
    "JwtTokenDetector": ("eyJ",),
    "MailchimpDetector": ("-us",),
    "NpmDetector": ("_authToken",),
    "OpenAIDetector": ("sk-",),
    "PrivateKeyDetector": ("BEGIN", "PuTTY"),
    "PypiTokenDetector": ("pypi-",),
    "SendGridDetector": ("SG.",),
    "SlackDetector": ("xox", "hooks.slack.com"),
    "SoftlayerDetector": (*_ASSIGNMENT_WORDS, "softlayer"),
    "SquareOAuthDetector": ("sq0csp-",),
    "StripeDetector": ("k_live_",),
    "TelegramBotTokenDetector": (":",),
    "TwilioKeyDetector": ("AC", "SK"),
}
# Public IPs are not secrets here. The keyword and entropy plugins are driven by their own classes below.
DISABLED_PLUGINS = frozenset({"IPPublicDetector"})
DRIVEN_PLUGINS = frozenset({"KeywordDetector", "Base64HighEntropyString", "HexHighEntropyString"})

# Replacements for plugin patterns, same secrets but linear time on long lines (the originals
# rescan to the end of the line from every "//", "sk-" or "eyJ": minutes on a 500 KB line).
# The JWT one also takes the signature (and a JWE's further parts); detect-secrets' stops before it.
_TOKEN_START = r"(?<![A-Za-z0-9_-])"
# Ambiguous fragments of detect-secrets' patterns, and unambiguous forms that accept the same text.
# build_assignment_regex's " *(=|:| +|…) *" tries every split of a run of spaces (minutes for "key"
# and 100 K spaces); the keyword rule's "\w*[^\s]{0,50}?" tries 50 splits at every word character.
_LINEAR_FRAGMENTS = (
    (r"(?: *)(?:=|:|:=|=>| +|::)(?: *)", r"(?: *+(?:=|:|:=|=>|::) *+| ++)"),
    (r"\w*[^\s]{0,50}?", r"\w*+[^\s]{0,50}?"),
)
_LINEAR_PATTERNS: dict[str, list[re.Pattern[str]]] = {
    "JwtTokenDetector": [
        re.compile(_TOKEN_START + r"eyJ[A-Za-z0-9_-]+=*\.[A-Za-z0-9_-]+=*(?:\.[A-Za-z0-9_+/=-]+)*"),
    ],
    "NpmDetector": [re.compile(r"/:_authToken=\s*(npm_.+|[A-Fa-f0-9-]{36})")],
    "OpenAIDetector": [
        re.compile(_TOKEN_START + r"sk-[A-Za-z0-9_-]*?[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}")
    ],
}
_TRIM = " \t=:\"'"
# Artifactory's "AP…" pattern also matches shouted words ("APDEXBREACHED"); its tokens are random.
_VALIDATORS: dict[str, Callable[[str], bool]] = {
    "ArtifactoryDetector": lambda value: not (value.isalpha() and value.isupper()),
}

_PRIVATE_KEY_BLOCK = re.compile(
    r"-{3,5} ?BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)? ?-{3,5}"
    r"(?:.*?-{3,5} ?END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)? ?-{3,5}|.*)"
    r"|PuTTY-User-Key-File-\d+:(?:.*?Private-MAC:[ \t]*\S+|.*)",
    re.DOTALL,
)

_AUTH_SCHEMES = r"(?:bearer|basic|token|digest|apikey|api-key|sso-key|key)"
_NO_SPACE = r"[^\s\"'`,;]"
# (pattern, kind, needles); group 1 is the secret.
_EXTRA_PATTERNS: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = (
    # "Authorization: Bearer abc…", "authorization=Basic dXNl…", "Proxy-Authorization: xyz"
    (
        re.compile(rf"(?i)authorization[\"']?\s*[:=]\s*[\"']?{_AUTH_SCHEMES}\s+({_NO_SPACE}+)"),
        "authorization",
        ("authorization",),
    ),
    # ...and without a scheme only when it looks like a credential (has a digit), not prose.
    (
        re.compile(rf"(?i)authorization[\"']?\s*[:=]\s*[\"']?({_NO_SPACE}*[0-9]{_NO_SPACE}*)"),
        "authorization",
        ("authorization",),
    ),
    (
        re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]*[0-9][A-Za-z0-9._~+/-]*=*)"),
        "authorization",
        ("bearer",),
    ),
    # ...?access_token=…&sig=… in pasted URLs
    (
        re.compile(
            r"(?i)[?&;](?:access_token|refresh_token|id_token|token|api_?key|key|secret|client_secret"
            r"|password|passwd|pwd|sig|signature|auth|code)=([^&#\s\"'<>]+)"
        ),
        "url-secret-param",
        ("=",),
    ),
)

# "db password is hunter2", "the API key was changed to Zx81-qq", "pin is 4921": a secret told in
# prose rather than assigned. Group 1 is the value; it must look like a secret (see _told_value).
_TOLD = re.compile(
    r"(?i)\b(?:pass(?:word|wd|phrase|code)?|pwd|pin|secret|token|credentials?"
    r"|(?:api|access|secret|signing|private|encryption|license)[ _-]?key)s?\b"
    r"(?:\s++(?:for|of|on|to)\s++[\w.@/:-]++)?"
    r"\s++(?:is|was|are|were)\s++(?:now\s++|still\s++|(?:changed|set|reset)\s++to\s++)?"
    r"[\"'`]?([^\s\"'`]*[^\s\"'`.,;:!?)\]}])"
)
_TOLD_NEEDLES = ("pass", "pwd", "pin", "secret", "token", "credential", "key")
_PLAIN_SYMBOLS = frozenset("-_./")


def _told_value(value: str) -> bool:
    """A value worth redacting: four characters or more, with a digit or a symbol ("hunter2",
    "Tr0ub4dor&3"), not a word ("the password is wrong") and not a placeholder ("{password}")."""
    return (
        len(value) >= 4
        and value[0] not in "{<$%"
        and any(c.isdigit() or (not c.isalnum() and c not in _PLAIN_SYMBOLS) for c in value)
        and not _placeholder(value)
    )


_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{16,}=*")  # "=" only as padding: "name=value" is two tokens
_PIECE = re.compile(r"[A-Za-z0-9]{16,}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_HEX_MIN = 16
# Letters, then digits: "COMMANDPOST", "v1", "sha256", "2024". A token made only of such segments
# ("COMMANDPOST_URL/api/v1/shifts", "DB_URL=postgresql+psycopg") is a name or a path, however
# many distinct characters it has; random tokens have digits scattered among their letters.
_WORDY_SEGMENT = re.compile(r"[A-Za-z]*[0-9]*")
_SEGMENT = re.compile(r"[A-Za-z0-9]+")
_WORD_RUN = re.compile(r"\w*")
_CALL = re.compile(r"[\w.-]+[\[(]")  # a value that is a call or a lookup: vault.read(, env[
# A value labelled as an identifier or digest right before it: trace_id=…, traceId: …, commit …, sha256:…
_ID_LABEL = re.compile(
    r"(?:\b|_|(?<=[a-z])(?=[A-Z]))"
    r"(?i:ids?|uid|uuid|guid|sha\d*|digest|hash|commit|rev|revision|etag|checksum|md5)"
    r"[\"']?\s*[:=]?\s*[\"']?\Z"
)


@dataclass(frozen=True, slots=True)
class _PatternRule:
    """One compiled pattern of a regex plugin, and how to cut the secret out of a match."""

    pattern: re.Pattern[str]
    kind: str
    use_group: bool
    needles: tuple[str, ...]
    valid: Callable[[str], bool] | None = None
    rank: int = SPECIFIC
    ignore_case: bool = False

    @classmethod
    def of(
        cls,
        pattern: re.Pattern[str],
        kind: str,
        use_group: bool,
        needles: tuple[str, ...],
        valid: Callable[[str], bool] | None = None,
        rank: int = SPECIFIC,
    ) -> _PatternRule:
        return cls(pattern, kind, use_group, needles, valid, rank, bool(pattern.flags & re.IGNORECASE))

    def __call__(self, text: Line) -> list[Hit]:
        line = text.text
        hits = []
        for m in self.pattern.finditer(line):
            if self.use_group and m.group(1):
                start, end = m.span(1)
            else:
                start, end = m.span()
                while start < end and line[start] in _TRIM:
                    start += 1
                while end > start and line[end - 1] in _TRIM:
                    end -= 1
            if end > start and (self.valid is None or self.valid(line[start:end])):
                hits.append(Hit(start, end, self.kind, self.rank))
        return hits


def _regex_plugin_rules() -> list[_PatternRule]:
    from detect_secrets.plugins import (
        artifactory,
        aws,
        azure_storage_key,
        basic_auth,
        cloudant,
        discord,
        github_token,
        gitlab_token,
        ibm_cloud_iam,
        ibm_cos_hmac,
        jwt,
        mailchimp,
        npm,
        openai,
        private_key,
        pypi_token,
        sendgrid,
        slack,
        softlayer,
        square_oauth,
        stripe,
        telegram_token,
        twilio,
    )

    plugins = (
        artifactory.ArtifactoryDetector,
        aws.AWSKeyDetector,
        azure_storage_key.AzureStorageKeyDetector,
        basic_auth.BasicAuthDetector,
        cloudant.CloudantDetector,
        discord.DiscordBotTokenDetector,
        github_token.GitHubTokenDetector,
        gitlab_token.GitLabTokenDetector,
        ibm_cloud_iam.IbmCloudIamDetector,
        ibm_cos_hmac.IbmCosHmacDetector,
        jwt.JwtTokenDetector,
        mailchimp.MailchimpDetector,
        npm.NpmDetector,
        openai.OpenAIDetector,
        private_key.PrivateKeyDetector,
        pypi_token.PypiTokenDetector,
        sendgrid.SendGridDetector,
        slack.SlackDetector,
        softlayer.SoftlayerDetector,
        square_oauth.SquareOAuthDetector,
        stripe.StripeDetector,
        telegram_token.TelegramBotTokenDetector,
        twilio.TwilioKeyDetector,
    )
    rules: list[_PatternRule] = []
    for plugin in plugins:
        name = plugin.__name__
        kinds = PLUGIN_KINDS[name]
        patterns = _LINEAR_PATTERNS.get(name) or [_linear(p) for p in plugin.denylist]
        for i, pattern in enumerate(patterns):
            kind = kinds[i] if isinstance(kinds, tuple) else kinds
            use_group = pattern.groups > 0 and name not in _WHOLE_MATCH
            valid = _VALIDATORS.get(name) or (
                jwt.JwtTokenDetector.is_formally_valid if plugin is jwt.JwtTokenDetector else None
            )
            rules.append(_PatternRule.of(pattern, kind, use_group, _NEEDLES[name], valid))
    return rules


def _linear(pattern: re.Pattern[str]) -> re.Pattern[str]:
    source = pattern.pattern
    for ambiguous, linear in _LINEAR_FRAGMENTS:
        source = source.replace(ambiguous, linear)
    return pattern if source == pattern.pattern else re.compile(source, pattern.flags)


def _placeholder(value: str) -> bool:
    """``{password}``, ``<token>``, ``${SECRET}``, ``$TOKEN``: a reference, not the secret itself."""
    from detect_secrets.filters.heuristic import is_prefixed_with_dollar_sign, is_templated_secret

    return is_templated_secret(value) or is_prefixed_with_dollar_sign(value)


def _word_end(line: str, pos: int) -> int:
    m = _WORD_RUN.match(line, pos)
    return m.end() if m else pos


class _KeywordDetector:
    """detect-secrets' KeywordDetector (``password = hunter2``, ``api_key: …``), every syntax at once.

    The plugin picks one regex table by file type; free text can be any of them, so the union
    of all its tables runs. Placeholders (``{password}``, ``$SECRET``) and indirect references
    (``secret = vault.get("x")``) are skipped, as detect-secrets' filters do (but judged on the
    value itself, not on anything later in the line).
    Every pattern contains a denylisted word, and all but one start with it, so those are only
    tried where a word starts (a full scan costs ~50 µs a line per pattern).
    """

    needles = ("key", "pass", "pwd", "secret", "contrase")  # every denylisted word contains one
    ignore_case = True

    def __init__(self) -> None:
        from detect_secrets.plugins import keyword

        table: dict[re.Pattern[str], int] = dict(keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP)
        for by_type in keyword.REGEX_BY_FILETYPE.values():
            table.update(by_type)
        table = {_linear(p): g for p, g in table.items()}
        self._anchored = [(p, g) for p, g in table.items() if p.pattern.startswith(keyword.DENYLIST_REGEX)]
        self._floating = [(p, g) for p, g in table.items() if (p, g) not in self._anchored]
        words = "|".join(keyword.DENYLIST)
        self._starts_lower = re.compile(f"(?=(?:{words}))")
        self._starts_any_case = re.compile(f"(?=(?:{words}))", re.IGNORECASE)

    def __call__(self, text: Line) -> list[Hit]:
        line = text.text
        if text.lower is None:
            starts = [m.start() for m in self._starts_any_case.finditer(line)]
        elif text.may_contain(self.needles, ignore_case=True):
            starts = [m.start() for m in self._starts_lower.finditer(text.lower)]
        else:
            return []
        if not starts:
            return []
        hits = [h for p, g in self._floating for m in p.finditer(line) if (h := self._hit(line, m, g))]
        for pattern, group in self._anchored:
            # Like finditer, no match starts inside the previous one. And each pattern is
            # "word\w*rest", so once it fails inside a run of word characters, later words in the
            # same run fail too: skipping them keeps "secret_secret_secret…" linear.
            skip_to = 0
            for pos in starts:
                if pos < skip_to:
                    continue
                m = pattern.match(line, pos)
                if m is None:
                    skip_to = _word_end(line, pos)
                else:
                    skip_to = m.end()
                    if h := self._hit(line, m, group):
                        hits.append(h)
        return hits

    def _hit(self, line: str, m: re.Match[str], group: int) -> Hit | None:
        start, end = m.span(group)
        if end > start and not _placeholder(line[start:end]) and not _CALL.match(line, start):
            return Hit(start, end, "keyword", KEYWORD)
        return None


class _EntropyDetector:
    """detect-secrets' high-entropy plugins over unquoted tokens, with their default limits."""

    needles = ()
    ignore_case = False

    def __init__(self) -> None:
        from detect_secrets.filters.heuristic import is_sequential_string
        from detect_secrets.plugins.high_entropy_strings import (
            Base64HighEntropyString,
            HexHighEntropyString,
        )

        self._b64, self._hex = Base64HighEntropyString(), HexHighEntropyString()
        self._is_sequential = is_sequential_string

    def __call__(self, text: Line) -> list[Hit]:
        line = text.text
        hits = []
        for token in _TOKEN.finditer(line):
            if self._random_looking(token[0]):
                if not self._excused(line, token.start(), token[0]):
                    hits.append(Hit(token.start(), token.end(), "high-entropy", ENTROPY))
                continue
            for piece in _PIECE.finditer(line, token.start(), token.end()):
                if self._random_looking(piece[0]) and not self._excused(line, piece.start(), piece[0]):
                    hits.append(Hit(piece.start(), piece.end(), "high-entropy", ENTROPY))
        return hits

    def _random_looking(self, value: str) -> bool:
        if _HEX.fullmatch(value):
            return (
                len(value) >= _HEX_MIN
                and self._hex.calculate_shannon_entropy(value) > self._hex.entropy_limit
            )
        return self._b64.calculate_shannon_entropy(value) > self._b64.entropy_limit

    def _excused(self, line: str, start: int, value: str) -> bool:
        return (
            all(_WORDY_SEGMENT.fullmatch(segment) for segment in _SEGMENT.findall(value))
            or bool(_UUID.fullmatch(value))
            or self._is_sequential(value)
            or bool(_ID_LABEL.search(line, max(0, start - 24), start))
        )


class _CardDetector:
    needles = ()
    ignore_case = False

    def __call__(self, text: Line) -> list[Hit]:
        return [Hit(start, end, "card-number", SPECIFIC) for start, end in find_card_numbers(text.text)]


def build() -> tuple[LineDetector, ...]:
    """Every line detector, compiled once. Imports detect-secrets (~0.3 s), so call it lazily."""
    # Contextual like the keyword rule: a JWT after "Bearer" is reported as a jwt.
    extras = [
        _PatternRule.of(p, kind, True, needles, lambda v: not _placeholder(v), KEYWORD)
        for p, kind, needles in _EXTRA_PATTERNS
    ]
    told = _PatternRule.of(_TOLD, "keyword", True, _TOLD_NEEDLES, _told_value, KEYWORD)
    return (
        *_regex_plugin_rules(),
        *extras,
        told,
        _KeywordDetector(),
        _EntropyDetector(),
        _CardDetector(),
    )


class Gate:
    """Which detectors may match a text: one substring test per distinct needle, not one per detector.

    Most text holds no needle at all, so for a short string this is the whole cost of finding that
    it holds no secret but for the few detectors without needles (entropy, cards)."""

    def __init__(self, detectors: tuple[LineDetector, ...]) -> None:
        self.detectors = detectors
        sensitive: dict[str, list[int]] = {}
        insensitive: dict[str, list[int]] = {}
        always = []
        for i, detector in enumerate(detectors):
            if not detector.needles:
                always.append(i)
            for needle in detector.needles:
                (insensitive if detector.ignore_case else sensitive).setdefault(needle, []).append(i)
        self._always = frozenset(always)
        self._sensitive = tuple((n, frozenset(ix)) for n, ix in sensitive.items())
        self._insensitive = tuple((n, frozenset(ix)) for n, ix in insensitive.items())
        self._any_case = frozenset(i for ix in insensitive.values() for i in ix)

    def active(self, line: Line) -> list[LineDetector]:
        """The detectors whose needles occur (all ignore-case ones when the text is not ASCII)."""
        chosen = set(self._always)
        text = line.text
        for needle, ix in self._sensitive:
            if needle in text:
                chosen |= ix
        lower = line.lower
        if lower is None:
            chosen |= self._any_case
        else:
            for needle, ix in self._insensitive:
                if needle in lower:
                    chosen |= ix
        return [self.detectors[i] for i in sorted(chosen)]


def private_key_blocks(text: str) -> list[Hit]:
    """Whole PEM / PuTTY private keys, BEGIN through END (to the end of the text if END is missing).

    detect-secrets flags only the header line, which would leave the key material itself behind.
    """
    return [Hit(m.start(), m.end(), "private-key", BLOCK) for m in _PRIVATE_KEY_BLOCK.finditer(text)]
