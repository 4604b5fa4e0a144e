"""``ebs demo``: the demo ISP loaded into an installed system (the Vagrant box), where
``ebs up --demo`` does not apply: the services are systemd's, not the local stack's."""

from __future__ import annotations

import ipaddress
from zoneinfo import ZoneInfo

import click

from cli import demo
from cli.common import load_settings, open_db
from cli.stack_commands import print_demo


@click.command("demo")
@click.option("--nas-ip", default=None, metavar="ADDRESS",
              help="The demo NAS's address instead of 127.0.0.1: where its RADIUS and "
                   "NetFlow come from (the Vagrant box: 10.0.2.2, the host behind "
                   "VirtualBox's NAT).")
def demo_command(nas_ip: str | None) -> None:
    """Load the demo ISP (a NAS, pools, tariffs, ten subscribers, staff) into the
    configured database and print the logins; loading twice changes nothing. Then apply
    the NAS to FreeRADIUS and nfacctd: on an installed system `systemctl start
    ebs-radius-clients` and `runuser -u ebs -- ebs flow reload`."""
    if nas_ip is not None:
        try:
            nas_ip = str(ipaddress.ip_address(nas_ip))
        except ValueError:
            raise click.BadParameter(f"{nas_ip!r} is no IP address",
                                     param_hint="--nas-ip") from None
    settings = load_settings()
    with open_db() as conn:
        info = demo.load(conn, tz=ZoneInfo(settings.TIME_ZONE))
        if nas_ip is not None:
            conn.execute("UPDATE nas SET ip_address = %s WHERE name = %s",
                         (nas_ip, demo.DEMO_NAS_NAME))
    print_demo(settings, info)
    if nas_ip is not None:
        click.echo(f"  The demo NAS is {nas_ip} (RADIUS and NetFlow come from there).")
