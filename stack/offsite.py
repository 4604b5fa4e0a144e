"""Copies of a finished backup away from this machine: a remote path by rsync
(``BACKUP_RSYNC_TARGET``: ``host:/path/`` over ssh, or a mounted path) and an
S3-compatible store (``BACKUP_S3_BUCKET`` with ``BACKUP_S3_ENDPOINT`` for MinIO, Ceph, …).

A failed copy never undoes the local archive: it is reported, and the command that made
the backup exits non-zero so cron and monitoring notice. Retention of remote copies is the
store's business (an S3 lifecycle rule, a cron job on the backup host).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace


def copy(settings: SimpleNamespace, path: Path) -> tuple[list[str], list[str]]:
    """Copy ``path`` to every configured place; returns (where it went, what failed)."""
    done, failed = [], []
    target = getattr(settings, "BACKUP_RSYNC_TARGET", "")
    if target:
        try:
            done.append(rsync(path, target))
        except OffsiteError as exc:
            failed.append(str(exc))
    if getattr(settings, "BACKUP_S3_BUCKET", ""):
        try:
            done.append(s3_upload(settings, path))
        except OffsiteError as exc:
            failed.append(str(exc))
    return done, failed


class OffsiteError(Exception):
    pass


def rsync(path: Path, target: str, timeout: float = 6 * 3600) -> str:
    """rsync the archive to ``target``; a partial transfer waits in ``.rsync-partial``,
    never under the archive's own name."""
    destination = target if target.endswith("/") else target + "/"
    try:
        subprocess.run(
            ["rsync", "--times", "--chmod=F600", "--partial-dir=.rsync-partial",
             str(path), destination],
            check=True, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise OffsiteError("rsync copy failed: rsync is not installed") from None
    except subprocess.CalledProcessError as exc:
        why = (exc.stderr.strip().splitlines() or [f"exit {exc.returncode}"])[-1]
        raise OffsiteError(f"rsync copy to {destination} failed: {why}") from None
    except subprocess.TimeoutExpired:
        raise OffsiteError(f"rsync copy to {destination} timed out") from None
    return f"{destination}{path.name}"


def s3_upload(settings: SimpleNamespace, path: Path) -> str:
    """Upload to ``s3://BACKUP_S3_BUCKET/BACKUP_S3_PREFIX<name>`` (multipart for large
    archives) and check the stored size."""
    import boto3
    from boto3.exceptions import Boto3Error
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    bucket = settings.BACKUP_S3_BUCKET
    key = f"{getattr(settings, 'BACKUP_S3_PREFIX', '')}{path.name}"
    endpoint = getattr(settings, "BACKUP_S3_ENDPOINT", "") or None
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=getattr(settings, "BACKUP_S3_REGION", "") or "us-east-1",
        aws_access_key_id=getattr(settings, "BACKUP_S3_ACCESS_KEY", "") or None,
        aws_secret_access_key=getattr(settings, "BACKUP_S3_SECRET_KEY", "") or None,
        # Path-style addressing for stores at their own address (MinIO and the like
        # answer no per-bucket host names); AWS itself gets its default.
        config=Config(retries={"max_attempts": 5, "mode": "standard"},
                      s3={"addressing_style": "path" if endpoint else "auto"}),
    )
    try:
        client.upload_file(str(path), bucket, key)
        stored = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
    except (Boto3Error, BotoCoreError, ClientError) as exc:
        raise OffsiteError(f"S3 copy to s3://{bucket}/{key} failed: {exc}") from None
    if stored != path.stat().st_size:
        raise OffsiteError(f"S3 copy s3://{bucket}/{key} holds {stored} bytes, "
                           f"the archive {path.stat().st_size}")
    return f"s3://{bucket}/{key}"
