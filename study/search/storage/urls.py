"""Storage URLs that hold a password: reading them safely, and the only forms that are printed.

A password is often pasted into a URL unencoded (``postgresql://u:Sek@r3t@host/db``). SQLAlchemy
ends the password at the *first* ``@``, connects to host ``r3t@host`` and puts that fragment of
the password in its error. Here the user information ends at the *last* ``@`` (a host, port,
database or query has none, or writes it ``%40``), and ``normalise`` percent-encodes the user and
password before SQLAlchemy sees them. Passwords already percent-encoded stay as they are
(``p%40ss`` is ``p@ss``); a ``%`` that starts no escape is a literal ``%``.

``redact`` is the only form of a URL that is ever printed; ``scrub`` removes a URL's password,
in every spelling, from any text (an error message, a log line).
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<password>[^&#]*)", re.IGNORECASE)
# A database URL written without its scheme: USER:PASSWORD@HOST...
_SCHEMELESS = re.compile(r"^(?P<user>[^/:@]+):(?P<password>.*)@(?P<rest>[^@]+)$")


@dataclass(frozen=True)
class _Parts:
    scheme: str
    user: str | None  # as written; None without user information
    password: str | None  # as written; None without a ':' in the user information
    rest: str  # host[:port][/database][?query]


def _split(url: str) -> _Parts | None:
    """``url``'s parts (user information up to the last ``@``); ``None`` without a scheme."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    userinfo, at, after = rest.rpartition("@")
    # sqlite:///path and file paths: what follows '://' is a path, never user information.
    if not at or rest.startswith("/"):
        return _Parts(scheme, None, None, rest)
    user, colon, password = userinfo.partition(":")
    return _Parts(scheme, user, password if colon else None, after)


def _encoded(text: str) -> str:
    """``text`` percent-encoded once: valid escapes are decoded first, so encoding twice changes
    nothing."""
    try:
        plain = urllib.parse.unquote(text, errors="strict")
    except UnicodeDecodeError:  # escapes of no UTF-8 text: take the characters literally
        plain = text
    return urllib.parse.quote(plain, safe="")


def normalise(url: str) -> str:
    """``url`` with its user and password percent-encoded, so that any URL parser reads the
    user information up to the last ``@`` (see the module docstring)."""
    parts = _split(url)
    if parts is None or parts.user is None:
        return url
    userinfo = _encoded(parts.user)
    if parts.password is not None:
        userinfo += ":" + _encoded(parts.password)
    return f"{parts.scheme}://{userinfo}@{parts.rest}"


def looks_schemeless(path: str) -> bool:
    """Whether ``path`` reads as ``USER:PASSWORD@HOST...``: a database URL without its scheme."""
    return bool(_SCHEMELESS.match(path))


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``: the only form of a URL that is printed."""
    parts = _split(url)
    if parts is None:
        match = _SCHEMELESS.match(url)
        return f"{match['user']}:***@{match['rest']}" if match else url
    if parts.password is not None:
        url = f"{parts.scheme}://{parts.user}:***@{parts.rest}"
    return _QUERY_PASSWORD.sub(r"\g<head>***", url)


def secrets(url: str) -> list[str]:
    """Every spelling of ``url``'s password (as written, decoded, encoded), longest first."""
    parts = _split(url)
    found = []
    if parts is not None and parts.password:
        found.append(parts.password)
    elif parts is None and (match := _SCHEMELESS.match(url)) and match["password"]:
        found.append(match["password"])
    found += [m["password"] for m in _QUERY_PASSWORD.finditer(url) if m["password"]]
    spellings = set()
    for secret in found:
        spellings |= {secret, urllib.parse.unquote(secret), _encoded(secret),
                      urllib.parse.quote(secret, safe="")}
    return sorted((s for s in spellings if s), key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """``text`` (an error message, a log line) with ``url``'s password removed."""
    text = text.replace(url, redact(url))
    for secret in secrets(url):
        text = text.replace(secret, "***")
    return text
