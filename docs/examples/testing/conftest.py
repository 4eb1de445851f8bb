# conftest.py: the fake_zoho fixture
pytest_plugins = ["zoho_tokens.testing.pytest_plugin"]
