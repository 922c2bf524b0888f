"""`python -m app` is the `relance` command."""

from app.cli import main

main()
