"""``python -m unrolled`` runs the command-line tool."""

from unrolled.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
