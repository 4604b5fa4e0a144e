"""nginx in front of gunicorn: HTTPS on 443 (HTTP on 80 only redirects), with a
self-signed certificate made at install until the operator puts their own in its place
(the same two files; a second install never replaces them)."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from types import SimpleNamespace

from stack.install.files import Changes, ensure_absent, ensure_dir, ensure_file, ensure_symlink
from stack.install.layout import TLS_DIR
from stack.install.systemd import enable_now, restart

SITE = Path("/etc/nginx/sites-available/ebs")
ENABLED = Path("/etc/nginx/sites-enabled/ebs")
DEBIAN_DEFAULT = Path("/etc/nginx/sites-enabled/default")
CERT = TLS_DIR / "ebs.crt"
KEY = TLS_DIR / "ebs.key"
UNIT = "nginx.service"


class NginxError(RuntimeError):
    """openssl or ``nginx -t`` refused; the message holds their words."""


def site(settings: SimpleNamespace) -> str:
    upstream = f"{settings.WEB_LISTEN_IP}:{int(settings.WEB_PORT)}"
    return f"""# Written by `ebs install`: the web app (admin, cashier desk, cabinet, API).
upstream ebs_web {{
    server {upstream};
}}

server {{
    listen 80 default_server;
    listen [::]:80 default_server;
    return 301 https://$host$request_uri;
}}

server {{
    listen 443 ssl default_server;
    listen [::]:443 ssl default_server;
    # Self-signed at install; put your own certificate and key in these two files.
    ssl_certificate {CERT};
    ssl_certificate_key {KEY};
    ssl_protocols TLSv1.2 TLSv1.3;
    client_max_body_size 20m;

    location / {{
        proxy_pass http://ebs_web;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $http_host;
        proxy_read_timeout 120s;
    }}
}}
"""


def ensure_certificate(changes: Changes) -> None:
    """A self-signed certificate for this host's name when there is none: the operator's
    own, once put there, is kept."""
    ensure_dir(TLS_DIR, 0o755, "root", "root", changes)
    if CERT.exists() and KEY.exists():
        return
    name = socket.getfqdn() or "localhost"
    result = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825",
         "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name},DNS:localhost",
         "-keyout", str(KEY), "-out", str(CERT)],
        capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NginxError(f"openssl could not make a certificate: {result.stderr.strip()}")
    KEY.chmod(0o600)
    CERT.chmod(0o644)
    changes.add(f"self-signed certificate for {name} made ({CERT})")


def check() -> None:
    result = subprocess.run(["nginx", "-t"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NginxError(f"nginx -t refused the configuration:\n{result.stderr.strip()}")


def ensure_nginx(settings: SimpleNamespace, changes: Changes) -> None:
    before = len(changes.made)
    ensure_certificate(changes)
    ensure_file(SITE, site(settings), 0o644, "root", "root", changes)
    ensure_symlink(ENABLED, SITE, changes)
    # Debian's welcome page would claim port 80 as the default server too.
    ensure_absent(DEBIAN_DEFAULT, changes, "our site is the default server")
    check()
    enable_now([UNIT], changes)
    if len(changes.made) > before:
        restart(UNIT, changes, "site or certificate changed")
