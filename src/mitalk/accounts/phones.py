"""Phone numbers in, E.164 out, with errors a person understands."""

from __future__ import annotations

import phonenumbers

from mitalk.core.errors import AppError

MAX_INPUT_LENGTH = 32


class InvalidPhone(AppError):
    status, code = 422, "invalid_phone"
    message = "This is not a valid phone number. Enter it with + and the country code, e.g. +49 151 2345 6789."


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
            "This number does not exist in its country's numbering plan. Check the digits and the country code."
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
