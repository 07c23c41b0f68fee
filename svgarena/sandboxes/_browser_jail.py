"""Chromium inside bubblewrap: a launcher that Playwright starts as its ``executable_path``.

The launcher (a small shell script written once per browser) runs the real Chromium under
``bwrap`` with every namespace unshared, network included, as ``nobody`` without capabilities:
the system read-only, a private ``/tmp``, and writable only the profile folder Playwright made
for this browser (``--user-data-dir``). Playwright talks to Chromium over inherited pipes
(``--remote-debugging-pipe``), which bwrap passes through, so no port is opened either.

With the page's own layers (JavaScript disabled, scripts and ``on*`` handlers stripped, a CSP
that allows no fetch, every request aborted by a route handler, the context offline) this puts
a third wall around the network: even a request that got past the first two has no interface
to leave by, and the host's files (a canary, the run folder) do not exist inside.
"""

from __future__ import annotations

import os
import shlex
import tempfile

from svgarena.sandboxes._jail import bwrap_argv, isolation_problem

_CHROMIUM_ETC = ("/etc/chromium", "/etc/chromium.d", "/etc/ssl/certs", "/etc/machine-id", "/etc/passwd",
                 "/etc/nsswitch.conf")

_SCRIPT = """#!/bin/sh
# svgarena: run Chromium jailed by bubblewrap (written by svgarena.sandboxes._browser_jail).
udd=""
for a in "$@"; do
  case "$a" in --user-data-dir=*) udd="${a#--user-data-dir=}";; esac
done
if [ -z "$udd" ] || [ ! -d "$udd" ]; then
  echo "svgarena chromium jail: no --user-data-dir folder given" >&2; exit 2
fi
exec PREFIX --bind "$udd" "$udd" -- CHROMIUM "$@"
"""


def jail_problem() -> str | None:
    """Why Chromium cannot be jailed here (None when it can)."""
    return isolation_problem("bwrap")


def write_launcher(chromium: str, folder: str | None = None) -> str:
    """Write the launcher script for ``chromium`` and return its path (the caller removes it)."""
    extra = [(p, p) for p in _CHROMIUM_ETC if os.path.exists(p)]
    real = os.path.realpath(chromium)
    if not real.startswith("/usr/"):
        extra.append((os.path.dirname(real), os.path.dirname(real)))
    prefix = bwrap_argv([], ro_binds=extra, tmpfs=("/dev/shm",), chdir="/tmp")
    assert prefix[-1] == "--"
    prefix = prefix[:-1] + ["--setenv", "HOME", "/tmp", "--setenv", "XDG_CONFIG_HOME", "/tmp",
                            "--setenv", "XDG_CACHE_HOME", "/tmp", "--setenv", "TMPDIR", "/tmp"]
    text = _SCRIPT.replace("PREFIX", shlex.join(prefix)).replace("CHROMIUM", shlex.quote(chromium))
    fd, path = tempfile.mkstemp(prefix="svgarena-chromium-jail-", suffix=".sh", dir=folder)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o755)
    return path
