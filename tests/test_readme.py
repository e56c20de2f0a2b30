"""The READMEs' settings tables match common.config.SETTINGS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from common.config import SETTINGS, settings_table_markdown

ROOT = Path(__file__).resolve().parent.parent


def _table(readme: str) -> str:
    match = re.search(r"<!-- settings-table[^>]*-->\n(.*?)\n<!-- /settings-table -->", readme, re.S)
    assert match is not None, "settings table markers missing"
    return match.group(1)


def test_english_table_is_generated_text():
    table = _table((ROOT / "README.md").read_text(encoding="utf-8"))

    assert table == settings_table_markdown()


@pytest.mark.parametrize("readme", ["README.md", "README.es.md"])
def test_table_lists_every_setting_with_default(readme):
    table = _table((ROOT / readme).read_text(encoding="utf-8"))
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1]

    assert list(rows) == [setting.name for setting in SETTINGS]
    for line in settings_table_markdown().splitlines()[2:]:
        name, default = [cell.strip() for cell in line.strip("|").split("|")][:2]
        expected_default = default
        if default == "(empty)" and readme.endswith(".es.md"):
            expected_default = "(vacío)"
        assert rows[name.strip("`")] == expected_default, name
