"""Shared pieces of the CLI tests: a tiny corpus, a tiny model's flags, and running ``unrolled`` in-process."""

from unrolled.cli import main

TEXT = "".join(f"row {i % 5} of the tiny corpus, number {i % 9}.\n" for i in range(80))
SMALL = ["--hidden", "12", "--embed", "6", "--layers", "1", "--batch-size", "4", "--bptt", "12", "--no-progress"]


def run_cli(capsys, *argv):
    """``unrolled ARGV`` in this process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err
