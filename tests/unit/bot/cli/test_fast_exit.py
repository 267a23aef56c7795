"""Issue 14 item 9: a finished report leaves without the interpreter's teardown only as the
installed `mlops-bot` command; embedded (tests, `python -c`) it returns to its caller."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import fast_exit


def test_embedded_callers_get_control_back() -> None:
    assert fast_exit.installed_command() is False  # pytest is __main__ here
    fast_exit.leave(3)  # returns: this test goes on


@pytest.mark.slow  # a fresh interpreter
def test_the_installed_command_exits_with_its_code_after_its_exit_handlers(tmp_path: Path) -> None:
    script = tmp_path / fast_exit.SCRIPT  # a console script of that name, as pip writes it
    script.write_text(
        "import atexit, sys\n"
        "atexit.register(lambda: print('handler ran', flush=True))\n"
        "from bot.cli.fast_exit import leave\n"
        "print('report written')\n"
        "leave(3)\n"
        "print('not reached')\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 3
    assert out.stdout.splitlines() == ["report written", "handler ran"]
