"""The README's "Testing your CRM code against the fake Zoho" example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "### Testing your CRM code against the fake Zoho"

pytestmark = pytest.mark.django_db  # as the example says


def readme_example() -> str:
    text = README.read_text()
    assert SECTION in text, "the README lost its records-testing section"
    section = text.split(SECTION, 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


def test_the_readme_example_runs(fake_zoho, tmp_path):
    namespace: dict = {}
    exec(compile(readme_example(), str(README), "exec"), namespace)

    assert namespace["pytest_plugins"] == ["zoho_tokens.testing.pytest_plugin"]
    namespace["test_leads"](fake_zoho, tmp_path)
    assert len(fake_zoho.records("Leads")) == 2
