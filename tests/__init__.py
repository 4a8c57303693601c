import os

# pytest-xdist starts its workers with COLUMNS=80 and LINES=24 in the environment. Rich fixes a
# Console's width at creation from COLUMNS, so the CLI's console would ignore the width each CLI
# test sets through CliRunner's env. Runs before conftest.py imports commandpost.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)
