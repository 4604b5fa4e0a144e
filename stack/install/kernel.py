"""The kernel setting a NetFlow collector needs, kept in /etc/sysctl.d so a reboot keeps it.

nfacctd asks for a 64 MiB socket receive buffer (``nfacctd_pipe_size``) and the kernel
grants at most twice ``net.core.rmem_max``: Debian's 4 MiB cap gives 8 MiB, about a tenth
of a second of datagrams at 800,000 flows/s, so a pause of the collector drops datagrams
(docs/benchmarks.md, "Runs of 2026-12-07, evening"). The file only raises the cap.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from stack.install.files import Changes, ensure_file
from stack.install.layout import systemd_wanted

SYSCTL_FILE = Path("/etc/sysctl.d/60-ebs-netflow.conf")
RMEM_MAX = 64 * 1024 * 1024
TEXT = ("# ebs install: nfacctd asks for a 64 MiB socket receive buffer; the kernel grants\n"
        "# at most twice this cap.\n"
        f"net.core.rmem_max = {RMEM_MAX}\n")


def ensure_sysctl(changes: Changes) -> None:
    """Write the file; on a running system (not in the install's chroot check, which
    shares the host's kernel) apply it at once."""
    written = ensure_file(SYSCTL_FILE, TEXT, 0o644, "root", "root", changes)
    if written and systemd_wanted():
        subprocess.run(["sysctl", "-q", "-p", str(SYSCTL_FILE)], check=False)
