"""Phone numbers in, E.164 out, with errors a person understands."""

from __future__ import annotations

import phonenumbers

from mitalk.accounts.errors import InvalidPhone, NotMobile

MAX_INPUT_LENGTH = 32

# The kinds of number a sign-in code is texted to. Where a plan cannot tell mobiles from
# landlines (the US, Canada, China's ranges, ...) a number is FIXED_LINE_OR_MOBILE and is let
# through. Everything else is refused: premium-rate, shared-cost, toll-free and UAN numbers are
# how text-message pumping earns money; landlines, pagers and voicemail cannot read a text;
# VoIP and personal numbers (UK 070) are cheap to hold by the thousand; numbers the plan does
# not know (UNKNOWN) too.
TEXTABLE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)
# Country code "001" is the non-geographic entities: satellite phones (+870 Inmarsat, +881
# Iridium, Globalstar...), international networks (+882, +883), global toll-free and
# premium-rate (+800, +808, +979). libphonenumber calls several of them MOBILE.
NON_GEOGRAPHIC = "001"


def normalize_phone(raw: str, default_region: str | None = None) -> str:
    """Parse a number as people type it and return its E.164 form, or raise ``InvalidPhone``."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhone("Enter a phone number.")
    if len(raw) > MAX_INPUT_LENGTH:
        raise InvalidPhone("That is too long to be a phone number.")
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise InvalidPhone(
                "Start the number with + and the country code, e.g. +49 151 2345 6789."
            ) from None
        raise InvalidPhone() from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone(
            "This number does not exist in its country's numbering plan. "
            "Check the digits and the country code."
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def require_textable(e164: str) -> None:
    """Raise ``NotMobile`` unless a sign-in code may be texted to this (valid, E.164) number."""
    parsed = phonenumbers.parse(e164)
    if phonenumbers.region_code_for_number(parsed) == NON_GEOGRAPHIC:
        raise NotMobile()
    if phonenumbers.number_type(parsed) not in TEXTABLE_TYPES:
        raise NotMobile()


def country_of(e164: str) -> str:
    """The region (ISO 3166 code) of a valid number, for per-country budgets; else its +code."""
    parsed = phonenumbers.parse(e164)
    return phonenumbers.region_code_for_number(parsed) or f"+{parsed.country_code}"
