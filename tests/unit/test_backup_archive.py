"""The backup archive judged before anything is touched: ours, complete, intact, not newer
than the code; the data folder's names checked before extraction; old archives pruned."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from stack import archive
from stack.backup import prune

MIGRATIONS = ["202612060900", "202612061300"]


def make_parts(tmp_path: Path) -> dict[str, Path]:
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "data").mkdir()
    (parts / "data" / "secrets").mkdir()
    (parts / "data" / "secrets" / "credentials.key").write_text("k" * 64)
    dump = parts / archive.DATABASE
    dump.write_bytes(b"PGDMP" + bytes(range(256)) * 400)
    files = parts / archive.FILES
    labels = archive.pack_files(files, {"secrets": parts / "data" / "secrets",
                                        "acct-spool": parts / "data" / "missing"})
    assert labels == ["secrets"]  # a folder that does not exist is skipped
    return {archive.DATABASE: dump, archive.FILES: files}


def make_archive(tmp_path: Path, *, migrations=MIGRATIONS, code_version="0.2.0",
                 name="ebs-backup-20261206T031500Z.tar") -> Path:
    parts = make_parts(tmp_path)
    manifest = archive.Manifest(
        code_version=code_version, created_at="2026-12-06T03:15:00+00:00",
        database={"name": "ebs", "migrations": migrations, "schema_checksum": "x"},
        parts=[archive.Part(n, archive.file_digest(p).size, archive.file_digest(p).sha256)
               for n, p in parts.items()],
        files=["secrets"])
    target = tmp_path / name
    archive.write(target, manifest, parts)
    return target


def verify(path: Path, code_version: str = "0.2.0") -> archive.Manifest:
    return archive.verify(path, MIGRATIONS, code_version)


def test_a_whole_archive_verifies_and_its_parts_come_out(tmp_path):
    path = make_archive(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".*.partial"))
    manifest = verify(path)
    assert manifest.latest_migration == "202612061300"
    assert {p.name for p in manifest.parts} == {archive.DATABASE, archive.FILES}
    assert archive.read_manifest(path).created_at == manifest.created_at

    out = archive.extract_part(path, archive.DATABASE, tmp_path / "out.dump")
    assert out.read_bytes() == (tmp_path / "parts" / archive.DATABASE).read_bytes()
    files = archive.extract_part(path, archive.FILES, tmp_path / "files.tar.gz")
    (tmp_path / "unpacked").mkdir()
    assert archive.unpack_files(files, tmp_path / "unpacked") == ["secrets"]
    key = tmp_path / "unpacked" / "secrets" / "credentials.key"
    assert key.read_text() == "k" * 64


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_changed_byte_in_a_part_is_named(tmp_path):
    path = make_archive(tmp_path)
    flip_byte(path, path.stat().st_size // 2)  # inside database.dump
    with pytest.raises(archive.ArchiveError, match=r"database.dump is damaged"):
        verify(path)


@pytest.mark.parametrize("where", ["in the manifest", "in the dump", "at the last byte"])
def test_a_truncated_archive_is_refused(tmp_path, where):
    path = make_archive(tmp_path)
    with tarfile.open(path) as tar:
        first, *_, last = tar.getmembers()
    cut = {"in the manifest": first.offset_data + 10,
           "in the dump": path.stat().st_size // 2,
           # One byte short of the data: the zero blocks after it carry nothing.
           "at the last byte": last.offset_data + last.size - 1}[where]
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(archive.ArchiveError, match=r"truncated|damaged|incomplete"):
        verify(path)


def test_foreign_files_are_not_taken_for_backups(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an archive")
    with pytest.raises(archive.ArchiveError, match="not a tar archive"):
        verify(text)

    other = tmp_path / "other.tar"
    with tarfile.open(other, "w") as tar:
        data = b"hello"
        info = tarfile.TarInfo("README")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(archive.ArchiveError, match="does not start with a manifest"):
        verify(other)

    theirs = tmp_path / "theirs.tar"
    with tarfile.open(theirs, "w") as tar:
        data = b'{"format": "someone-else", "format_version": 1}'
        info = tarfile.TarInfo(archive.MANIFEST)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(archive.ArchiveError, match="its manifest is not ours"):
        verify(theirs)

    with pytest.raises(archive.ArchiveError, match="no such file"):
        verify(tmp_path / "missing.tar")


def test_an_extra_member_is_refused(tmp_path):
    path = make_archive(tmp_path)
    with tarfile.open(path, "a") as tar:
        info = tarfile.TarInfo("evil.sh")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"rm!"))
    with pytest.raises(archive.ArchiveError, match=r"unexpected member 'evil\.sh'"):
        verify(path)


def test_an_archive_newer_than_the_code_is_refused(tmp_path):
    (tmp_path / "a").mkdir()
    newer_schema = make_archive(tmp_path / "a", migrations=[*MIGRATIONS, "203001010000"])
    with pytest.raises(archive.ArchiveError, match="migration 203001010000, which this code"):
        verify(newer_schema)
    (tmp_path / "b").mkdir()
    newer_code = make_archive(tmp_path / "b", code_version="0.3.0")
    with pytest.raises(archive.ArchiveError, match=r"made by ebs 0\.3\.0, newer than this 0\.2\.0"):
        verify(newer_code)
    assert verify(newer_code, code_version="0.3.0").code_version == "0.3.0"
    assert verify(newer_code, code_version="1.0.0").code_version == "0.3.0"


def test_version_order():
    assert archive.version_key("0.10.0") > archive.version_key("0.9.9")
    assert archive.version_key("0.2.0.dev1") < archive.version_key("0.2.0")


def test_a_newer_format_is_refused_by_name():
    raw = b'{"format": "ebs-backup", "format_version": 99}'
    with pytest.raises(archive.ArchiveError, match="format 99, made by a newer ebs"):
        archive.Manifest.from_json(raw)


@pytest.mark.parametrize("name", ["../escape", "/etc/cron.d/x", "secrets/../../x"])
def test_files_that_would_land_outside_the_data_folder_are_refused(tmp_path, name):
    bad = tmp_path / "files.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    (tmp_path / "out").mkdir()
    with pytest.raises(archive.ArchiveError, match="not a plain file under the data folder"):
        archive.unpack_files(bad, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_link_in_the_data_folder_is_refused(tmp_path):
    bad = tmp_path / "files.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        info = tarfile.TarInfo("secrets/key")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/shadow"
        tar.addfile(info)
    with pytest.raises(archive.ArchiveError):
        archive.unpack_files(bad, tmp_path)


def test_prune_keeps_the_newest_archives_only(tmp_path):
    names = [archive.archive_name(f"202612{d:02d}T033000Z", label)
             for d, label in [(1, "daily"), (2, "daily"), (3, ""), (4, "pre-upgrade"),
                              (5, "daily")]]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("kept")
    (tmp_path / ".ebs-backup-20261206T033000Z.tar.partial").write_bytes(b"x")
    removed = prune(tmp_path, 3)
    assert [p.name for p in removed] == names[:2]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*names[2:], "notes.txt", ".ebs-backup-20261206T033000Z.tar.partial"])
    assert prune(tmp_path, 0) == []  # 0 keeps all


def test_a_second_backup_in_the_same_second_takes_the_next_free_name(tmp_path):
    from datetime import UTC, datetime

    from stack.backup import _free_name

    now = datetime(2026, 12, 6, 22, 4, 40, 500_000, tzinfo=UTC)
    first = _free_name(tmp_path, now, "")
    assert first.name == "ebs-backup-20261206T220440Z.tar"
    first.touch()
    second = _free_name(tmp_path, now, "")
    assert second.name == "ebs-backup-20261206T220441Z.tar"
    assert _free_name(tmp_path, now, "nightly").name == "ebs-backup-20261206T220440Z-nightly.tar"
