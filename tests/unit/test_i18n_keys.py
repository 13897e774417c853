"""Every string of the browser client exists in both languages."""

import re
from pathlib import Path

I18N = Path(__file__).parents[2] / "web" / "i18n"
KEY = re.compile(r"^\s*'([^']+)':", re.MULTILINE)


def keys(lang: str) -> set[str]:
    return set(KEY.findall((I18N / f"{lang}.js").read_text(encoding="utf-8")))


def test_spanish_and_english_have_the_same_strings() -> None:
    es, en = keys("es"), keys("en")
    assert len(es) > 100
    assert es - en == set(), "only in Spanish"
    assert en - es == set(), "only in English"
