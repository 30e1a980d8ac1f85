import subprocess
import sys

FORBIDDEN = ("unrolled.models", "unrolled.tasks", "unrolled.cli", "unrolled.train")


def test_text_and_data_do_not_import_higher_layers():
    code = (
        "import sys, unrolled.text, unrolled.data; "
        f"print(sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
