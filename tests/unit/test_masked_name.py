"""A transfer's recipient is shown masked: enough to catch a typo in the contract, not
enough to learn who holds it."""

import pytest

from webapp.display import masked_name


@pytest.mark.parametrize(("full_name", "shown"), [
    ("Иванов Пётр", "Ив*** П***"),
    ("Иванов Пётр Сергеевич", "Ив*** П*** С***"),
    ("  Ли   Ян ", "Л*** Я***"),
    ("ООО", "ОО***"),
    ("", "***"),
    (None, "***"),
])
def test_the_first_word_keeps_two_letters_the_others_one(full_name, shown):
    assert masked_name(full_name) == shown


def test_no_more_of_the_name_than_three_letters_of_two_words_shows():
    shown = masked_name("Константинопольский Александр")
    assert "Константин" not in shown and "Алекс" not in shown
    assert shown.count("***") == 2
