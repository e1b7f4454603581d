"""Unpacking study archives: bombs, path tricks and links are refused before anything is used."""

from __future__ import annotations

import io
import os
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from b12brain.errors import InputFileError
from b12brain.study.archive import unpacked_archive


def _zip(path: Path, members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return path


def _tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                archive.addfile(info, io.BytesIO(member[1]))
    return path


def test_good_archives_unpack_into_a_private_folder_removed_afterwards(tmp_path: Path) -> None:
    members = {"CD/DICOMDIR": b"x" * 10, "CD/IMAGES/IM1": b"y" * 2000}
    for path in (_zip(tmp_path / "cd.zip", members), _tar(tmp_path / "cd.tgz", list(members.items()))):
        with unpacked_archive(path) as folder:
            assert (folder / "CD" / "IMAGES" / "IM1").read_bytes() == b"y" * 2000
            assert not folder.is_relative_to(tmp_path)  # never beside the input
            assert oct(folder.stat().st_mode & 0o777) == "0o700"
        assert not folder.exists()


def test_zip_bomb_is_refused_from_its_directory(tmp_path: Path) -> None:
    bomb = _zip(tmp_path / "bomb.zip", {"IM1": bytes(16 << 20)})  # 16 MiB of zeros packs to ~16 kB
    assert bomb.stat().st_size < 100_000
    with pytest.raises(InputFileError, match=r"member 'IM1' unpacks [\d,]+ times its packed size \(a zip bomb"):
        with unpacked_archive(bomb):
            pass


def test_archive_over_the_size_cap_is_refused_before_unpacking(tmp_path: Path) -> None:
    path = _zip(tmp_path / "big.zip", {"a": os.urandom(3000), "b": os.urandom(3000)})
    with pytest.raises(InputFileError, match=r"unpacks to more than 5,000 bytes"):
        with unpacked_archive(path, max_bytes=5000):
            pass
    with pytest.raises(InputFileError, match=r"holds 2 members, over b12brain's limit of 1"):
        with unpacked_archive(path, max_members=1):
            pass


def test_zip_member_that_unpacks_past_its_declared_size_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "liar.zip", {"IM1": os.urandom(4000)}, compression=zipfile.ZIP_STORED)
    raw = bytearray(path.read_bytes())
    # Declare 100 bytes unpacked, in the local header (offset 22) and the central directory (24).
    struct.pack_into("<I", raw, 22, 100)
    central = raw.index(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, 100)
    path.write_bytes(bytes(raw))
    # zipfile stops at the declared size and then finds the CRC wrong; either way it is refused.
    with pytest.raises(InputFileError, match=r"liar.zip: cannot be unpacked \(Bad CRC-32 for file 'IM1'\)"):
        with unpacked_archive(path):
            pass


@pytest.mark.parametrize(("name", "problem"), [
    ("../../evil.dcm", r"member '../../evil.dcm' climbs out of the archive \('..'\)"),
    ("CD/../../evil.dcm", r"climbs out of the archive"),
    ("/etc/evil.dcm", r"member '/etc/evil.dcm' has an absolute path"),
    ("C:\\evil.dcm", r"has an absolute path"),
])
def test_zip_and_tar_with_escaping_paths_are_refused(tmp_path: Path, name: str, problem: str) -> None:
    for path in (_zip(tmp_path / "a.zip", {"ok": b"1", name: b"2"}), _tar(tmp_path / "a.tar.gz", [("ok", b"1"), (name, b"2")])):
        with pytest.raises(InputFileError, match=problem) as info:
            with unpacked_archive(path):
                pass
        assert info.value.path == str(path)
        assert "refused" in str(info.value)
    assert not (tmp_path.parent / "evil.dcm").exists()


def test_links_and_devices_in_archives_are_refused(tmp_path: Path) -> None:
    link = tarfile.TarInfo("CD/IM1")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    device = tarfile.TarInfo("CD/dev")
    device.type = tarfile.CHRTYPE
    for member in (link, device):
        path = _tar(tmp_path / f"{member.name.replace('/', '_')}.tgz", [member])
        with pytest.raises(InputFileError, match=rf"member '{member.name}' is a link or device"):
            with unpacked_archive(path):
                pass
    zipped = tmp_path / "link.zip"
    info = zipfile.ZipInfo("CD/IM1")
    info.external_attr = (0o120777 << 16)  # a symbolic link, as Info-ZIP stores it
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(InputFileError, match=r"member 'CD/IM1' is a link or device"):
        with unpacked_archive(zipped):
            pass


def test_a_corrupt_archive_is_named(tmp_path: Path) -> None:
    path = tmp_path / "cd.zip"
    path.write_bytes(b"PK\x03\x04" + os.urandom(200))
    with pytest.raises(InputFileError, match=r"cd.zip: cannot be unpacked .*expected a readable zip or tar"):
        with unpacked_archive(path):
            pass
