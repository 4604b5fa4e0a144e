#!/usr/bin/env bash
# nfacctd asks the kernel for a 64 MiB socket receive buffer (nfacctd_pipe_size), and the
# kernel grants at most twice net.core.rmem_max: 8 MiB with Debian's 4 MiB cap, about
# 0.1 s of datagrams at 800,000 flows/s, so a pause of the collector drops datagrams.
# Raise the cap of the running kernel (never lower it). The production install makes it
# permanent in /etc/sysctl.d; a container whose /proc/sys is read-only keeps its cap, and
# nfacctd's log says what it obtained ("nfacctd_pipe_size: obtained=...").
set -uo pipefail

want=67108864
current=$(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo 0)
if [ "$current" -ge "$want" ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo -n"
fi
if $SUDO sysctl -q -w net.core.rmem_max="$want" 2>/dev/null; then
  echo "netflow-buffers: net.core.rmem_max raised from $current to $want"
else
  echo "netflow-buffers: net.core.rmem_max stays $current (could not raise it)" >&2
fi
exit 0
