"""`python -m perfrun` is the `perfrun` command."""

from perfrun.cli import main

if __name__ == "__main__":
    main()
