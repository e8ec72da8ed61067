"""Is this an address one could send to? Syntax only, the same verdict everywhere.

email-validator is the judge, but it costs about 120 µs per address here (pure Python,
most of it the domain's checks): more than everything else an import does with a row,
and over half of trackEvents' own time for a batch of 500 events. Addresses share a few
domains, and almost all are plain ASCII, so an address made of a dot-atom local part and
a domain of letters, digits and hyphens is checked by a pattern, its domain's verdict
remembered; anything else goes to email-validator itself, whose message is the answer.
tests/imports/test_rows.py checks on generated addresses that the pattern never accepts
one email-validator refuses.
"""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN = re.compile(rf"({_ATEXT}(?:\.{_ATEXT})*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
MAX_LOCAL = 64  # RFC 5321, as email-validator enforces
MAX_ADDRESS = 254
DOMAIN_CACHE = 4096  # domains whose verdict is remembered (each at most 254 characters)


def syntax_problem(address: str) -> str | None:
    """email-validator's reason this address is refused (raw text: the caller escapes
    it for a message), or None."""
    if plainly_valid(address):
        return None
    return _validator_problem(address)


def plainly_valid(address: str) -> bool:
    """True only for addresses email-validator accepts; False means "ask it"."""
    match = _PLAIN.fullmatch(address)
    return (
        match is not None
        and len(match.group(1)) <= MAX_LOCAL
        and len(address) <= MAX_ADDRESS
        and _domain_ok(match.group(2).lower())
    )


@lru_cache(maxsize=DOMAIN_CACHE)
def _domain_ok(domain: str) -> bool:
    return _validator_problem(f"a@{domain}") is None


def _validator_problem(address: str) -> str | None:
    try:
        validate_email(address, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        return str(exc)
    return None
