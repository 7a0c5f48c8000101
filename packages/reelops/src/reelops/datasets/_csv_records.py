"""Split a CSV byte stream into records in bounded memory: one record per line.

A record is one physical line, ended by LF, CRLF or CR (mixed endings are fine).
A quoted field may hold commas and doubled quotes but never a line break: MovieLens
titles and tags have none, and a quote that does not close on its own line would
otherwise swallow the records after it. Such a record, like every other record that
cannot be split into fields, becomes a row holding its raw text and the reason, so
that each line of the file is accounted for exactly once.

Memory is bounded by the read block, ``chunk_bytes`` and ``max_record_bytes``,
whatever the size of the file or of its lines: a line longer than
``max_record_bytes`` is not kept, only its first bytes (for the quarantine) and its
length.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pv

from reelops.errors import SchemaMismatchError
from reelops.raw_columns import LINE, PARSE_ERROR

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import BinaryIO

__all__ = ["count_records", "read_header", "record_chunks"]

_BLOCK = 1 << 20
_BOM = b"\xef\xbb\xbf"
#: Bytes of an overlong record kept for the quarantine.
_PREVIEW = 200
_UNCLOSED = "unexpected end of data"


class _Overlong(bytes):
    """The first bytes of a line longer than the limit; ``size`` is its length."""

    size: int


def _lines(stream: BinaryIO, max_record_bytes: int) -> Iterator[list[bytes]]:
    """The physical lines of ``stream``, a list per block read, terminators removed.

    A line longer than ``max_record_bytes`` comes as an :class:`_Overlong` preview.
    """
    carry = b""  # the unterminated start of the current line, capped
    carry_size = 0  # the bytes of the current line read so far
    skip_lf = False  # the last block ended with CR: a leading LF completes a CRLF
    cap = max_record_bytes + 1

    def whole(first: bytes) -> bytes:
        size = carry_size + len(first)
        line = carry + first[: max(cap - len(carry), 0)]
        return _overlong(line, size) if size > max_record_bytes else line

    def _overlong(line: bytes, size: int) -> bytes:
        kept = _Overlong(line[:_PREVIEW])
        kept.size = size
        return kept

    while block := stream.read(_BLOCK):
        if skip_lf:
            skip_lf = False
            block = block.removeprefix(b"\n")
            if not block:
                continue
        cut = max(block.rfind(b"\n"), block.rfind(b"\r"))
        if cut < 0:
            carry_size += len(block)
            if len(carry) < cap:
                carry += block[: cap - len(carry)]
            continue
        head, tail = block[: cut + 1], block[cut + 1 :]
        skip_lf = not tail and head.endswith(b"\r")
        lines = head.splitlines()
        lines[0] = whole(lines[0])
        if max(map(len, lines)) > max_record_bytes:
            lines = [
                _overlong(line, len(line)) if len(line) > max_record_bytes else line
                for line in lines
            ]
        yield lines
        carry, carry_size = tail[:cap], len(tail)
    if carry_size:
        yield [whole(b"")]


def read_header(
    stream: BinaryIO, columns: Sequence[str], source: str, max_record_bytes: int
) -> tuple[list[str], Iterator[list[bytes]]]:
    """The header's column names and the lines after it.

    Raises:
        SchemaMismatchError: the file is empty (or its first line is), or the
            header lacks a column of ``columns``, has one that is not in it, or
            repeats one.
    """
    blocks = _lines(stream, max_record_bytes)
    first: list[bytes] = []
    for block in blocks:
        if block:
            first = block
            break
    head = first[0].removeprefix(_BOM) if first else b""
    text = head.decode("utf-8", errors="replace")
    if not text.strip():
        raise SchemaMismatchError(
            f"{source}: empty file (expected header '{','.join(columns)}')"
        )
    header = [h.strip() for h in next(csv.reader([text]))]
    _check_header(header, columns, source)

    def rest() -> Iterator[list[bytes]]:
        yield first[1:]
        yield from blocks

    return header, rest()


def _check_header(header: list[str], columns: Sequence[str], source: str) -> None:
    expected = ",".join(columns)
    got = ",".join(header)
    for col in columns:
        if col not in header:
            raise SchemaMismatchError(
                f"{source}: missing column '{col}' "
                f"(expected header '{expected}', got '{got}')"
            )
    for col in header:
        if col not in columns:
            raise SchemaMismatchError(
                f"{source}: unexpected column '{col}' "
                f"(expected header '{expected}', got '{got}')"
            )
    if len(set(header)) != len(header):
        raise SchemaMismatchError(
            f"{source}: duplicate column in header (expected '{expected}', got '{got}')"
        )


def _regroup(
    blocks: Iterator[list[bytes]], chunk_rows: int, chunk_bytes: int
) -> Iterator[list[bytes]]:
    """Lists of at most ``chunk_rows`` lines, at least one list.

    A list ends too once it holds ``chunk_bytes``, checked after each read block:
    it holds less than ``chunk_bytes`` plus a block.
    """
    buf: list[bytes] = []
    size = 0
    emitted = False
    for lines in blocks:
        start = 0
        while start < len(lines):
            part = lines[start : start + chunk_rows - len(buf)]
            start += len(part)
            buf += part
            size += sum(map(len, part))
            if len(buf) >= chunk_rows or size >= chunk_bytes:
                yield buf
                buf, size, emitted = [], 0, True
    if buf or not emitted:
        yield buf


def _decode(lines: list[bytes]) -> tuple[list[str], list[int]]:
    """The lines as text and the positions of those that are not UTF-8."""
    texts, bad = [], []
    for i, line in enumerate(lines):
        try:
            texts.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            texts.append(line.decode("utf-8", errors="replace"))
            bad.append(i)
    return texts, bad


def _split_quoted(text: str) -> list[str] | str:
    """The fields of a line holding quotes, or why it cannot be split."""
    try:
        return next(csv.reader([text], strict=True))
    except csv.Error as exc:
        if str(exc) == _UNCLOSED:
            return "unclosed quote (a quoted field must end on its own line)"
        return f"malformed quoting: {exc}"


def _rows(
    lines: list[bytes], n_fields: int, max_record_bytes: int
) -> tuple[list[list[str]], list[str]]:
    """Split lines one by one with the csv module: their fields and parse errors.

    A line that cannot be split keeps its raw text in its first field.
    """
    texts, bad_bytes = _decode(lines)
    rows: list[list[str]] = []
    errors: list[str] = []
    for line, decoded in zip(lines, texts, strict=True):
        text = decoded
        fields: list[str] | str
        if type(line) is _Overlong:
            size = line.size
            fields = f"record longer than {max_record_bytes} bytes (got {size})"
            text += "\u2026"
        elif text == "":
            fields = "blank line"
        elif '"' in text:
            fields = _split_quoted(text)
        else:
            fields = text.split(",")
        if isinstance(fields, list) and len(fields) != n_fields:
            fields = f"expected {n_fields} fields, got {len(fields)}"
        if isinstance(fields, str):
            rows.append([text, *[""] * (n_fields - 1)])
            errors.append(fields)
        else:
            rows.append(fields)
            errors.append("")
    for i in bad_bytes:
        errors[i] = errors[i] or "bytes that are not valid UTF-8"
    return rows, errors


def _arrow_rows(
    joined: bytes, header: list[str], max_record_bytes: int
) -> tuple[pa.Table, list[int]]:
    """Split LF-joined UTF-8 lines without quotes with pyarrow.

    Returns the table of the lines that have ``len(header)`` fields and the
    positions of the others.
    """
    wrong: list[int] = []

    def keep_position(row: pv.InvalidRow) -> str:
        wrong.append(int(row.number or 0) - 1)
        return "skip"

    table = pv.read_csv(
        io.BytesIO(joined),
        read_options=pv.ReadOptions(
            use_threads=False,
            column_names=header,
            block_size=max(1 << 24, 2 * (max_record_bytes + 1)),
        ),
        parse_options=pv.ParseOptions(
            quote_char=False, invalid_row_handler=keep_position
        ),
        convert_options=pv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            strings_can_be_null=False,
        ),
    )
    return table, wrong


def _frame(
    lines: list[bytes], header: list[str], first_line: int, max_record_bytes: int
) -> pd.DataFrame:
    """One row per line: the fields as strings, the line number and parse error.

    Lines that are plain (UTF-8, no quote, not blank, not too long) are split by
    pyarrow; the others, and plain lines with the wrong number of fields, by
    :func:`_rows`.
    """
    numbers = np.arange(first_line, first_line + len(lines), dtype="int64")
    special = np.zeros(len(lines), dtype=bool)
    joined = b"\n".join(lines)
    if (
        b'"' in joined
        or b"\n\n" in joined
        or (lines and not (lines[0] and lines[-1]))
        or _Overlong in set(map(type, lines))
    ):
        special[
            [
                i
                for i, line in enumerate(lines)
                if not line or b'"' in line or type(line) is _Overlong
            ]
        ] = True
        joined = b"\n".join(
            line for line, odd in zip(lines, special, strict=True) if not odd
        )
    try:
        joined.decode("utf-8")
    except UnicodeDecodeError:
        for i, line in enumerate(lines):
            if not special[i] and not _is_utf8(line):
                special[i] = True
        joined = b"\n".join(
            line for line, odd in zip(lines, special, strict=True) if not odd
        )
    parts: list[pd.DataFrame] = []
    if not special.all():
        table, wrong = _arrow_rows(joined, header, max_record_bytes)
        plain_numbers = numbers[~special]
        if wrong:
            special[np.flatnonzero(~special)[wrong]] = True
            plain_numbers = np.delete(plain_numbers, wrong)
        fast = table.to_pandas()
        fast[LINE] = plain_numbers
        fast[PARSE_ERROR] = ""
        parts.append(fast)
    if special.any():
        odd = np.flatnonzero(special)
        rows, errors = _rows([lines[i] for i in odd], len(header), max_record_bytes)
        slow = pd.DataFrame(
            {
                name: pd.array(col, dtype="str")
                for name, col in zip(header, zip(*rows, strict=True), strict=True)
            }
        )
        slow[LINE] = numbers[odd]
        slow[PARSE_ERROR] = pd.array(errors, dtype="str")
        parts.append(slow)
    if not parts:
        frame = pd.DataFrame({name: pd.array([], dtype="str") for name in header})
        frame[LINE] = numbers
        frame[PARSE_ERROR] = pd.array([], dtype="str")
        return frame
    frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    if len(parts) > 1:
        frame = frame.sort_values(LINE, kind="stable", ignore_index=True)
    blank = (frame[header] == "").all(axis=1) & (frame[PARSE_ERROR] == "")
    if blank.any():
        frame.loc[blank, PARSE_ERROR] = "blank line"
    return frame


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def record_chunks(
    stream: BinaryIO,
    columns: Sequence[str],
    source: str,
    *,
    chunk_rows: int,
    chunk_bytes: int,
    max_record_bytes: int,
) -> Iterator[pd.DataFrame]:
    """The records of a CSV stream as frames of string columns, at least one.

    Every line after the header becomes exactly one row, in file order, with its
    line number in :data:`LINE` (the header is line 1) and, when it cannot be
    split into ``columns``, its raw text in the first column and the reason in
    :data:`PARSE_ERROR`: a record longer than ``max_record_bytes``, a quote that
    does not close on its line, the wrong number of fields, a blank line, bytes
    that are not UTF-8. Lines are read as they are needed.

    Raises:
        SchemaMismatchError: see :func:`read_header`; raised before any chunk.
    """
    header, blocks = read_header(stream, columns, source, max_record_bytes)
    return _frames(
        blocks,
        header,
        columns,
        chunk_rows=chunk_rows,
        chunk_bytes=chunk_bytes,
        max_record_bytes=max_record_bytes,
    )


def _frames(
    blocks: Iterator[list[bytes]],
    header: list[str],
    columns: Sequence[str],
    *,
    chunk_rows: int,
    chunk_bytes: int,
    max_record_bytes: int,
) -> Iterator[pd.DataFrame]:
    line = 2
    for lines in _regroup(blocks, chunk_rows, chunk_bytes):
        frame = _frame(lines, header, line, max_record_bytes)
        line += len(lines)
        yield frame[[*columns, LINE, PARSE_ERROR]]


def count_records(
    stream: BinaryIO, columns: Sequence[str], source: str, *, max_record_bytes: int
) -> int:
    """The number of records :func:`record_chunks` yields, without splitting them."""
    _, blocks = read_header(stream, columns, source, max_record_bytes)
    return sum(len(lines) for lines in blocks)
