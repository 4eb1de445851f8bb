python -m pip install pytest pytest-django
printf '[pytest]\nDJANGO_SETTINGS_MODULE = mysite.settings\n' > pytest.ini
