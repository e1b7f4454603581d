"""Reading a file's (possibly gzip-packed) bytes with memory and work bounded in advance.

A ``.nii.gz`` of a few megabytes can unpack to gigabytes (a "gzip bomb", or just a header that
lies about the image size). These readers never hold more than the bytes the caller asked for,
and stop unpacking at a cap given before the first byte is read.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from pathlib import Path

from b12brain.errors import InputFileError

#: Bytes read (packed) and unpacked per step; also the largest piece held besides the result.
CHUNK_BYTES = 1 << 20
#: ``wbits`` for zlib to expect a gzip wrapper (header, CRC-32 and size trailer are checked).
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def is_gzip_path(path: Path) -> bool:
    """True when the name ends in ``.gz`` (the content is then read as a gzip stream)."""
    return path.name.lower().endswith(".gz")


def read_head(path: Path, nbytes: int) -> bytes:
    """The first ``nbytes`` of the file's content (unpacked for ``.gz``), or fewer if it is shorter.

    Raises
    ------
    InputFileError
        The file cannot be opened, or its gzip stream is corrupt within those bytes.
    """
    if not is_gzip_path(path):
        with _opened(path) as handle:
            return handle.read(nbytes)
    head = bytearray()
    try:
        for chunk in _unpacked_chunks(path):
            head += chunk[: nbytes - len(head)]
            if len(head) >= nbytes:
                break
    except EOFError:
        pass  # shorter than asked: the caller sees it from the length
    except zlib.error as err:
        raise InputFileError(path, f"cannot be read as NIfTI (gzip stream is corrupt: {err}); expected a .nii or .nii.gz image") from err
    return bytes(head)


def read_span(path: Path, offset: int, nbytes: int, *, slack: int = CHUNK_BYTES) -> bytearray:
    """Bytes ``offset`` to ``offset + nbytes`` of the file's content, held in one buffer.

    For a ``.gz`` file the stream is unpacked in :data:`CHUNK_BYTES` steps; bytes before
    ``offset`` are dropped as they come. The rest of the stream is unpacked too (so that its
    CRC is checked) but not kept, and unpacking stops with an error once more than ``offset +
    nbytes + slack`` bytes came out: a bomb costs at most that much work and ``nbytes`` memory.

    Returns
    -------
    bytearray
        Exactly ``nbytes`` long, or shorter when the content ends early (a truncated file:
        the caller, who knows what the header promised, reports it).

    Raises
    ------
    InputFileError
        Unreadable file, corrupt or cut-off gzip stream, or a stream unpacking past the cap.
    """
    buffer = bytearray(nbytes)
    view = memoryview(buffer)
    if not is_gzip_path(path):
        with _opened(path) as handle:
            handle.seek(offset)
            filled = handle.readinto(view)
        return buffer if filled == nbytes else buffer[:filled]
    cap = offset + nbytes + slack
    position = filled = 0  # bytes unpacked so far; bytes kept so far
    try:
        for chunk in _unpacked_chunks(path):
            start = max(offset - position, 0)
            take = min(len(chunk) - start, nbytes - filled)
            if take > 0:
                view[filled : filled + take] = chunk[start : start + take]
                filled += take
            position += len(chunk)
            if position > cap:
                raise InputFileError(
                    path,
                    f"unpacks to more than {cap:,} bytes, but its header describes {offset + nbytes:,}; "
                    "the file is corrupt or not one image (reading stopped), export it again",
                )
    except EOFError as err:
        if filled < nbytes:
            return buffer[:filled]
        raise InputFileError(path, "is truncated or corrupt (the gzip stream is cut off before its end); copy or export the file again") from err
    except zlib.error as err:
        raise InputFileError(path, f"is truncated or corrupt (gzip stream: {err}); copy or export the file again") from err
    return buffer if filled == nbytes else buffer[:filled]


def _opened(path: Path) -> io.BufferedReader:
    try:
        return path.open("rb")
    except OSError as err:
        raise InputFileError(path, f"cannot be opened ({err.strerror}); check the path and its permissions") from err


def _unpacked_chunks(path: Path) -> Iterator[bytes]:
    """The unpacked content of a gzip file, at most :data:`CHUNK_BYTES` per piece.

    Concatenated gzip members are read one after the other, and zero padding after the last
    one is ignored, as :mod:`gzip` does. Raises ``EOFError`` when the stream is cut off.
    """
    with _opened(path) as handle:
        inflater = zlib.decompressobj(_GZIP_WBITS)
        pending = b""
        while True:
            if not pending:
                pending = handle.read(CHUNK_BYTES)
                if not pending:
                    # Input exhausted: zlib may still hold output cut at the last max_length.
                    while not inflater.eof and (rest := inflater.decompress(b"", CHUNK_BYTES)):
                        yield rest
                    if not inflater.eof:
                        raise EOFError("the gzip stream is cut off")
                    return
            if inflater.eof:
                if not pending.strip(b"\0"):
                    pending = b""
                    continue
                inflater = zlib.decompressobj(_GZIP_WBITS)  # the next gzip member
            out = inflater.decompress(pending, CHUNK_BYTES)
            pending = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
            if out:
                yield out
