"""Leave a finished `mlops-bot report` without the interpreter's teardown.

With pandas, pyarrow, matplotlib, scipy and a few hundred MB of frames loaded, Python's
finalisation (module teardown, freeing every object one by one) took 0.3-1 s of wall time and
~0.2-0.5 CPU s after the report was written and its summary printed: a tenth of a 200k-row
report. The exit handlers still run and the output is flushed; then `os._exit` hands the
memory back to the kernel in one go.

Only as the installed `mlops-bot` command (the console script is `__main__`): code embedding
`bot.cli.main` (tests, `python -c`) may have more to do after it returns.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path

SCRIPT = "mlops-bot"


def installed_command() -> bool:
    """Whether this process is the `mlops-bot` console script, nothing after its main()."""
    main = sys.modules.get("__main__")
    return Path(getattr(main, "__file__", None) or "").name == SCRIPT


def leave(code: int) -> None:
    """Exit now with ``code`` (exit handlers run, stdout and stderr flushed) when this is the
    installed command; otherwise return, and the caller exits the usual way."""
    if not installed_command():
        return
    atexit._run_exitfuncs()  # logging's flush, thread pools' joins: what a normal exit runs
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
