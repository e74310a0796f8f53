"""The README documents every result column and the two set-up commands."""

from __future__ import annotations

from pathlib import Path

from omega_engine import _core

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_result_column_is_documented() -> None:
    for table, column, _doc in _core.column_docs():
        if column == "<param>":
            continue
        assert f"| `{column}` |" in README, (table, column)
        assert f"#### `{table}`" in README


def test_setup_commands() -> None:
    assert "bash scripts/demo.sh" in README and "bash scripts/test.sh" in README
