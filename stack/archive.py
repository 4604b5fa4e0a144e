"""The backup archive: one file an operator can copy, check and restore.

An uncompressed tar whose first member is ``manifest.json``; each part compresses itself:

* ``database.dump`` — ``pg_dump`` in the custom format (compressed, one snapshot);
* ``files.tar.gz`` — the data folder: the generated secrets (the key that seals CHAP
  passwords among them) and the accounting spool not yet applied;
* ``settings_local.py`` — the settings file in force, when there is one.

The manifest names the code's version, the database's schema (every migration, a checksum
over migrations and function files) and each part's size and SHA-256, so an archive is
judged — complete, intact, ours, not newer than the code — before anything is stopped or
touched (:func:`verify`). Member names inside ``files.tar.gz`` are checked before anything
is extracted: relative, no ``..``, regular files and directories only.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

FORMAT = "ebs-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE = "database.dump"
FILES = "files.tar.gz"
SETTINGS = "settings_local.py"
KNOWN_PARTS = (DATABASE, FILES, SETTINGS)
_CHUNK = 1 << 20
_NAME = re.compile(r"^ebs-backup-\d{8}T\d{6}Z(-[a-z0-9-]+)?\.tar$")


class ArchiveError(Exception):
    """The archive cannot be used; the message says why (nothing was touched)."""


@dataclass(frozen=True)
class Part:
    name: str
    size: int
    sha256: str


@dataclass
class Manifest:
    code_version: str
    created_at: str  # ISO 8601, UTC
    database: dict  # name, migrations, latest_migration, schema_checksum, size
    parts: list[Part]
    files: list[str] = field(default_factory=list)  # what files.tar.gz holds, by label
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ArchiveError(f"the manifest is not valid JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ArchiveError("not an ebs backup: its manifest is not ours")
        if not isinstance(data.get("format_version"), int):
            raise ArchiveError("the manifest has no format version")
        if data["format_version"] > FORMAT_VERSION:
            raise ArchiveError(
                f"the archive is of format {data['format_version']}, made by a newer ebs "
                f"(this one reads format {FORMAT_VERSION}): upgrade the code first")
        try:
            parts = [Part(p["name"], int(p["size"]), str(p["sha256"])) for p in data["parts"]]
            manifest = cls(
                code_version=str(data["code_version"]), created_at=str(data["created_at"]),
                database=dict(data["database"]), parts=parts, files=list(data["files"]),
                format=data["format"], format_version=data["format_version"])
            list(manifest.database["migrations"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ArchiveError(f"the manifest is incomplete ({exc!r} missing or wrong)") from None
        return manifest

    @property
    def latest_migration(self) -> str:
        return max(self.database["migrations"], default="none")


def archive_name(stamp: str, label: str = "") -> str:
    """``ebs-backup-20261206T031500Z[-label].tar``: sorts by time, tells its purpose."""
    return f"ebs-backup-{stamp}{'-' + label if label else ''}.tar"


def is_archive_name(name: str) -> bool:
    return bool(_NAME.match(name))


def file_digest(path: Path) -> Part:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return Part(path.name, size, digest.hexdigest())


def write(target: Path, manifest: Manifest, parts: dict[str, Path]) -> None:
    """Write the archive next to ``target`` and move it into place only when complete and
    on disk: a full disk or a crash leaves no file that looks like a backup."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            raw = manifest.to_json()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(raw), 0o600, int(os.path.getmtime(
                next(iter(parts.values()))))
            tar.addfile(info, io.BytesIO(raw))
            for name, path in parts.items():
                info = tar.gettarinfo(str(path), arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o600
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)
        with open(partial, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(partial, 0o600)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def read_manifest(path: Path) -> Manifest:
    """The manifest alone (cheap: the first member)."""
    with _open(path) as tar:
        first = _next_member(tar)
        if first is None or first.name != MANIFEST:
            raise ArchiveError("not an ebs backup: it does not start with a manifest")
        return Manifest.from_json(_read_member(tar, first))


def verify(path: Path, known_migrations: Iterable[str], code_version: str) -> Manifest:
    """Everything that can be checked without touching the system: a tar of ours, the
    manifest, exactly the parts it lists with their sizes and SHA-256, and a database
    and code version this code can restore (not newer)."""
    path = Path(path)
    if not path.is_file():
        raise ArchiveError(f"{path}: no such file")
    try:
        with _open(path) as tar:
            first = _next_member(tar)
            if first is None or first.name != MANIFEST:
                raise ArchiveError("not an ebs backup: it does not start with a manifest")
            manifest = Manifest.from_json(_read_member(tar, first))
            expected = {p.name: p for p in manifest.parts}
            unknown = set(expected) - set(KNOWN_PARTS)
            if unknown or DATABASE not in expected:
                raise ArchiveError(f"the manifest lists parts {sorted(expected)}; a backup "
                                   f"has {DATABASE} and only {', '.join(KNOWN_PARTS)}")
            seen = set()
            while (member := _next_member(tar)) is not None:
                part = expected.get(member.name)
                if part is None or member.name in seen or not member.isfile():
                    raise ArchiveError(f"unexpected member {member.name!r} in the archive")
                seen.add(member.name)
                found = _digest_member(tar, member)
                if found.size != part.size or found.sha256 != part.sha256:
                    raise ArchiveError(
                        f"{member.name} is damaged: {found.size} bytes with SHA-256 "
                        f"{found.sha256[:12]}…, the manifest says {part.size} bytes, "
                        f"{part.sha256[:12]}…")
            missing = set(expected) - seen
            if missing:
                raise ArchiveError(f"the archive is incomplete: {', '.join(sorted(missing))} "
                                   "missing (truncated?)")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise ArchiveError(f"the archive is damaged or truncated ({exc})") from None
    _check_not_newer(manifest, set(known_migrations), code_version)
    return manifest


def _check_not_newer(manifest: Manifest, known: set[str], code_version: str) -> None:
    unknown = sorted(set(manifest.database["migrations"]) - known)
    if unknown:
        raise ArchiveError(
            f"the archive's database has migration {unknown[-1]}, which this code does not "
            f"know (backup made by ebs {manifest.code_version}, this is {code_version}): "
            f"install that version or newer, then restore")
    if version_key(manifest.code_version) > version_key(code_version):
        raise ArchiveError(
            f"the archive was made by ebs {manifest.code_version}, newer than this "
            f"{code_version}: install that version or newer, then restore")


def version_key(version: str) -> tuple:
    """Order ``X.Y.Z`` versions (a ``.devN`` or other suffix sorts before its release)."""
    match = re.match(r"^(\d+)\.(\d+)\.(\d+)(.*)$", version)
    if not match:
        return (0, 0, 0, 0)
    major, minor, patch, rest = match.groups()
    return (int(major), int(minor), int(patch), 0 if rest else 1)


def extract_part(path: Path, name: str, target: Path) -> Path:
    """Copy one part out of the archive into ``target`` (a file path)."""
    with _open(path) as tar:
        while (member := _next_member(tar)) is not None:
            if member.name == name:
                source = tar.extractfile(member)
                with open(target, "wb") as out:
                    while chunk := source.read(_CHUNK):
                        out.write(chunk)
                return target
    raise ArchiveError(f"the archive has no {name}")


def pack_files(target: Path, sources: dict[str, Path]) -> list[str]:
    """``files.tar.gz`` from labelled files and directories (missing ones are skipped);
    returns the labels packed. Regular files and directories only (a socket or a link is
    not data). A spool file the drain applies and removes while we walk is skipped: the
    database, dumped after, has its entries."""
    packed = []
    with tarfile.open(target, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for label, source in sources.items():
            if source.is_file():
                _add_file(tar, source, label)
            elif source.is_dir():
                _add_dir(tar, source, label)
                for path in sorted(source.rglob("*")):
                    name = f"{label}/{path.relative_to(source).as_posix()}"
                    if path.is_dir() and not path.is_symlink():
                        _add_dir(tar, path, name)
                    elif path.is_file() and not path.is_symlink():
                        _add_file(tar, path, name)
            else:
                continue
            packed.append(label)
    return packed


def _add_dir(tar: tarfile.TarFile, path: Path, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, path.stat().st_mode & 0o777
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, path: Path, name: str) -> None:
    """The file as it is when opened: its size then (a spool file still being appended to
    is cut at an entry FreeRADIUS may be writing; the drain passes over a partial one)."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 (a file gone before the open is skipped)
    except FileNotFoundError:
        return
    with fh:
        stat = os.fstat(fh.fileno())
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = stat.st_size, stat.st_mode & 0o777, int(stat.st_mtime)
        tar.addfile(info, fh)


def unpack_files(source: Path, target: Path) -> list[str]:
    """Extract ``files.tar.gz`` under ``target`` after checking every name; returns the
    labels (top-level names) found. Modes are kept; ownership is the caller's."""
    labels = []
    with tarfile.open(source, "r:gz") as tar:
        members = tar.getmembers()
        for member in members:
            name = PurePosixPath(member.name)
            if (name.is_absolute() or ".." in name.parts or not name.parts
                    or not (member.isfile() or member.isdir())):
                raise ArchiveError(f"files.tar.gz holds {member.name!r}: not a plain file "
                                   "under the data folder")
        for member in members:
            dest = target.joinpath(*PurePosixPath(member.name).parts)
            if member.isdir():
                dest.mkdir(parents=True, exist_ok=True, mode=0o700)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                with tar.extractfile(member) as src, open(
                        os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                        "wb") as out:
                    while chunk := src.read(_CHUNK):
                        out.write(chunk)
            os.chmod(dest, member.mode & 0o777)
            top = PurePosixPath(member.name).parts[0]
            if top not in labels:
                labels.append(top)
    return labels


def _open(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:")
    except tarfile.ReadError:
        raise ArchiveError("not an ebs backup: not a tar archive") from None


def _next_member(tar: tarfile.TarFile) -> tarfile.TarInfo | None:
    try:
        return tar.next()
    except tarfile.ReadError as exc:
        raise ArchiveError(f"the archive is damaged or truncated ({exc})") from None


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int = 1 << 20) -> bytes:
    if member.size > limit:
        raise ArchiveError(f"{member.name} is {member.size} bytes: not a manifest")
    data = tar.extractfile(member).read()
    if len(data) != member.size:
        raise ArchiveError(f"the archive is truncated inside {member.name}")
    return data


def _digest_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> Part:
    digest, size = hashlib.sha256(), 0
    source = tar.extractfile(member)
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return Part(member.name, size, digest.hexdigest())

