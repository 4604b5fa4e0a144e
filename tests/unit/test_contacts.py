"""A subscriber's phone is kept as + and digits, an e-mail only when it looks like one
(billing.contacts, the rule the cabinet's contacts form shows)."""

import pytest

from billing.contacts import ContactError, normal_email, normal_phone


@pytest.mark.parametrize(("typed", "kept"), [
    ("+7 (916) 123-45-01", "+79161234501"),
    ("8 916 123 45 01", "89161234501"),
    ("  ", ""),
    ("12345", "12345"),
])
def test_a_phone_is_kept_as_plus_and_digits(typed, kept):
    assert normal_phone(typed) == kept


@pytest.mark.parametrize("typed", ["1234", "+7 916 abc", "12+345678", "1" * 16, "++79161234501"])
def test_a_phone_that_is_not_one_is_refused(typed):
    with pytest.raises(ContactError) as refused:
        normal_phone(typed)
    assert refused.value.code == "bad_phone"


@pytest.mark.parametrize("typed", ["ivan@example", "ivan@@example.org", "iv an@example.org",
                                   "@example.org", "ivan@.org", "x" * 250 + "@a.ru"])
def test_an_email_that_is_not_one_is_refused(typed):
    with pytest.raises(ContactError) as refused:
        normal_email(typed)
    assert refused.value.code == "bad_email"


def test_an_email_is_kept_as_typed_and_empty_clears_it():
    assert normal_email(" Ivan.P@Example.org ") == "Ivan.P@Example.org"
    assert normal_email("") == ""
