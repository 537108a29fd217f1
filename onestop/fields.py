"""Fields (lĩnh vực): the vocabulary procedures are grouped by, with their names.

A ``fields`` file under ``workflows/`` names each field code a catalog uses, so reports say
"Đất đai / Land" rather than ``land``. When such a file is loaded, every procedure's field must be
in it (checked at load time, like units and roles).

Example:
    >>> vocabulary = FieldVocabulary.model_validate(
    ...     {"fields": [{"code": "land", "name_vi": "Đất đai", "name_en": "Land"}]})
    >>> vocabulary.by_code()["land"].name_vi
    'Đất đai'
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from onestop.units import KEY_PATTERN


class FieldName(BaseModel):
    """One field: its code (as procedures write it) and its names."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(pattern=KEY_PATTERN, max_length=60)
    name_vi: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)


class FieldVocabulary(BaseModel):
    """A ``fields`` definition file (a field defined twice is reported by the loader)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    fields: tuple[FieldName, ...] = Field(min_length=1)

    def by_code(self) -> dict[str, FieldName]:
        """The fields by code."""
        return {f.code: f for f in self.fields}
