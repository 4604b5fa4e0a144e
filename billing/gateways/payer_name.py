"""The subscriber's name as a payment provider may show it to whoever types a contract
number into a bank's app or a terminal.

The payer needs enough to see the number is the right one ("Иван И. П."), and no more:
anyone can type any number, so a full name next to a contract number would hand out
the ISP's subscriber list one guess at a time (personal data, 152-ФЗ). So: the given
name in full, every other part as its initial.
"""

from __future__ import annotations


def masked_name(full_name: str) -> str:
    """"Петров Иван Сергеевич" (surname, given name, patronymic, as accounts hold it) →
    "Иван С. П."; "Петров Иван" → "Иван П."; one word → its initial."""
    parts = full_name.split()
    if not parts:
        return ""
    if len(parts) == 1:
        return f"{parts[0][0]}."
    surname, given, *rest = parts
    return " ".join([given, *(f"{part[0]}." for part in rest), f"{surname[0]}."])
