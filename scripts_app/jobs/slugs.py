"""A slug for a job that was given none: made from its name (or its script's path),
transliterated to Latin letters (``Бэкап базы данных`` → ``bekap-bazy-dannykh``), and
unique: a slug already taken, or one that is a ``manage.py`` command, gets ``-2``, ``-3``…"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.text import slugify

from scripts_app import validators
from scripts_app.models import Job

# Russian (and the Ukrainian and Belarusian letters Russian lacks), as Yandex and most
# Russian sites spell them in URLs: х → kh, ц → ts, щ → shch, ъ and ь dropped.
CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяієїґў",
        "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya i e yi g u".split(),
        strict=True,
    )
)
MAX_LENGTH = Job._meta.get_field("slug").max_length


def transliterate(text: str) -> str:
    out = []
    for char in text:
        latin = CYRILLIC.get(char.lower())
        if latin is None:
            out.append(char)
        elif latin != "_":
            out.append(latin.capitalize() if char.isupper() else latin)
    return "".join(out)


def slug_base(text: str) -> str:
    """The slug ``text`` reads as (accents dropped by slugify), or "job" if nothing is left."""
    return slugify(transliterate(text))[:MAX_LENGTH].strip("-_") or "job"


def unique_slug(text: str) -> str:
    """A slug for ``text`` that no job has and no command is."""
    base = slug_base(text)
    taken = set(Job.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    n = 1
    while True:
        suffix = f"-{n}" if n > 1 else ""
        candidate = base[: MAX_LENGTH - len(suffix)].rstrip("-_") + suffix
        if candidate not in taken and _allowed(candidate):
            return candidate
        n += 1


def _allowed(slug: str) -> bool:
    try:
        validators.validate_job_slug(slug)
    except ValidationError:
        return False
    return True
