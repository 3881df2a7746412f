"""Phone normalisation: every way people write a valid number gives one E.164 form."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mitalk.accounts.errors import InvalidPhone
from mitalk.accounts.phones import normalize_phone

REGIONS = sorted(
    r for r in phonenumbers.SUPPORTED_REGIONS
    if phonenumbers.example_number_for_type(r, phonenumbers.PhoneNumberType.MOBILE) is not None
)
FORMATS = [
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.RFC3966,
]


@st.composite
def mobile_numbers(draw: st.DrawFn) -> phonenumbers.PhoneNumber:
    region = draw(st.sampled_from(REGIONS))
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    return example


@given(
    number=mobile_numbers(), fmt=st.sampled_from(FORMATS), noise=st.sampled_from(["", " ", "  "])
)
@settings(max_examples=300, deadline=None)
def test_every_written_form_normalises_to_e164(
    number: phonenumbers.PhoneNumber, fmt: int, noise: str
) -> None:
    expected = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    written = noise + phonenumbers.format_number(number, fmt) + noise
    assert normalize_phone(written) == expected


@given(number=mobile_numbers())
@settings(max_examples=200, deadline=None)
def test_national_form_with_region_normalises(number: phonenumbers.PhoneNumber) -> None:
    region = phonenumbers.region_code_for_number(number)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    assert normalize_phone(national, region) == phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.E164
    )


@given(number=mobile_numbers())
@settings(max_examples=200, deadline=None)
def test_normalisation_is_idempotent(number: phonenumbers.PhoneNumber) -> None:
    once = normalize_phone(
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    )
    assert normalize_phone(once) == once
    assert once.startswith("+") and once[1:].isdigit() and len(once) <= 16


@given(st.text(max_size=80))
@settings(max_examples=500, deadline=None)
def test_any_text_is_a_number_or_invalid_phone(raw: str) -> None:
    try:
        result = normalize_phone(raw)
    except InvalidPhone as exc:
        assert exc.status == 422 and exc.code == "invalid_phone" and exc.message
    else:
        assert phonenumbers.is_valid_number(phonenumbers.parse(result))


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "12",
        "+49 151",
        "+999 123456789",
        "not a number",
        "+49 151 2345 6789 1234 5678 9012 3456",
    ],
)
def test_invalid_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)


def test_without_plus_a_default_region_is_needed() -> None:
    with pytest.raises(InvalidPhone, match="country code"):
        normalize_phone("0151 2345 6789")
    assert normalize_phone("0151 2345 6789", "DE") == "+4915123456789"
