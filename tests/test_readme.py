"""The README's configuration table lists every setting, so ops never read the code."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from app.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _variables() -> list[str]:
    names = []
    for name, field in Settings.model_fields.items():
        env = str(field.validation_alias or name).upper()
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += [f"{env}__{sub.upper()}" for sub in annotation.model_fields]
        else:
            names.append(env)
    return names


def test_every_setting_is_in_the_readme_table() -> None:
    missing = [name for name in _variables() if f"| `{name}` |" not in README]
    assert not missing, f"settings missing from README's configuration table: {missing}"
