"""Excel workbooks, images, PDF and Parquet: opened with their libraries in
their bounded modes, so a corrupt or hostile file fails with a reason."""

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from files import conf
from files.validation.archive import check_zip
from files.validation.report import CheckFailed


def check_excel(path: Path, *, extension: str) -> dict[str, Any]:
    if extension == "xls":
        from files.previews.excel import open_xls

        sheet_rows = {}
        try:
            book = open_xls(path)
            try:
                # One sheet in memory at a time (.xls caps a sheet at 65,536 rows).
                for index, name in enumerate(book.sheet_names()):
                    sheet_rows[name] = max(book.sheet_by_index(index).nrows - 1, 0)
                    book.unload_sheet(index)
            finally:
                book.release_resources()
        except Exception as exc:  # xlrd raises many unrelated types for bad input
            raise CheckFailed(f"not a readable .xls workbook: {str(exc)[:200]}") from None
        return {"sheets": len(sheet_rows), **_row_facts(sheet_rows)}

    # xlsx is a zip: refuse bombs before openpyxl inflates anything.
    zip_facts = check_zip(path)
    from openpyxl import load_workbook

    rows = 0
    sheet_rows = {}
    try:
        # A file object, because openpyxl judges a path by its extension and
        # stored blobs have none.
        handle = open(path, "rb")
        book = load_workbook(handle, read_only=True, data_only=True)
        try:
            sheets = book.sheetnames
            for name, sheet in zip(sheets, book.worksheets, strict=True):
                in_sheet = sum(1 for _row in sheet.iter_rows(values_only=True))
                rows += in_sheet
                # The first row is the header, as the converter reads it.
                sheet_rows[name] = max(in_sheet - 1, 0)
        finally:
            book.close()
            handle.close()
    except CheckFailed:
        raise
    except Exception as exc:  # openpyxl raises KeyError, BadZipFile, XML errors...
        raise CheckFailed(
            f"not a readable workbook (truncated or corrupt): {type(exc).__name__}: {str(exc)[:200]}"
        ) from None
    return {
        "sheets": len(sheets),
        "rows": rows,
        "uncompressed_size": zip_facts["uncompressed_size"],
        **_row_facts(sheet_rows),
    }


def _row_facts(sheet_rows: dict[str, int]) -> dict[str, Any]:
    """Data rows per sheet, and of the first sheet (what a conversion reads
    unless told which sheet)."""
    first = next(iter(sheet_rows.values()), 0)
    return {"data_rows": first, "sheet_rows": sheet_rows}


def check_image(path: Path) -> dict[str, Any]:
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as image:
                width, height = image.size
                if width * height > conf.IMAGE_MAX_PIXELS:
                    raise CheckFailed(
                        f"image is {width}x{height} pixels, above the {conf.IMAGE_MAX_PIXELS}-pixel limit "
                        "(decompression bomb)"
                    )
                image_format = image.format
                image.verify()
        except CheckFailed:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise CheckFailed(f"decompression bomb refused: {exc}") from None
        except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError...
            # Pillow names the file it read: our storage path, not the user's.
            message = str(exc).replace(f"'{path}'", "").replace(str(path), "").strip()
            raise CheckFailed(f"not a readable image: {message[:200]}") from None
    return {"format": image_format, "width": width, "height": height}


# PDF names that make a reader run something. Refused: JavaScript and
# Launch (runs a program). Reported only: automatic actions and embedded
# files, which are common in harmless PDFs (an /OpenAction that sets the
# zoom, PDF/A-3 invoices that embed their XML).
_PDF_REFUSED = {b"JavaScript": "JavaScript", b"JS": "JavaScript", b"Launch": "a Launch action (runs a program)"}
_PDF_REPORTED = {b"OpenAction", b"AA", b"EmbeddedFile", b"RichMedia", b"XFA", b"SubmitForm", b"URI"}
# A name token: "/" then regular characters; "#xx" escapes any byte, so
# "/J#61vaScript" is "/JavaScript" (PDF 1.7, 7.3.5).
_PDF_NAME = re.compile(rb"/([^\x00\t\n\x0c\r ()<>\[\]{}/%]{1,127})")
_PDF_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")


def _pdf_names(path: Path) -> Iterator[bytes]:
    """Every name token of a PDF, unescaped, read in 1 MiB blocks; a name
    cut at a block's end is carried over to the next block."""
    carry = b""
    with open(path, "rb") as handle:
        while True:
            block = handle.read(1 << 20)
            data = carry + block
            carry = b""
            for match in _PDF_NAME.finditer(data):
                if block and match.end() == len(data):
                    carry = data[match.start() :]  # may go on in the next block
                    break
                raw = match.group(1)
                yield _PDF_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw) if b"#" in raw else raw
            if not block:
                return


def check_pdf(path: Path) -> dict[str, Any]:
    with open(path, "rb") as handle:
        head = handle.read(1024)
        handle.seek(max(0, path.stat().st_size - 2048))
        tail = handle.read()
    if not head.startswith(b"%PDF-"):
        raise CheckFailed("not a PDF (no %PDF- header)")
    if b"%%EOF" not in tail:
        raise CheckFailed("PDF is truncated (no %%EOF marker)")
    refused: list[str] = []
    reported: set[str] = set()
    for name in _pdf_names(path):
        if name in _PDF_REFUSED and _PDF_REFUSED[name] not in refused:
            refused.append(_PDF_REFUSED[name])
        elif name in _PDF_REPORTED:
            reported.add(name.decode())
    if refused:
        raise CheckFailed(
            f"PDF contains active content: {', '.join(refused)} (not allowed)", active_content=sorted(reported)
        )
    return {"version": head[5:8].decode("ascii", "replace"), "active_content": sorted(reported)}


def check_parquet(path: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    try:
        metadata = pq.ParquetFile(str(path)).metadata
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for bad files
        raise CheckFailed(f"not a readable Parquet file: {str(exc)[:200]}") from None
    return {
        "rows": metadata.num_rows,
        "columns": metadata.num_columns,
        "row_groups": metadata.num_row_groups,
        "data_rows": metadata.num_rows,
    }
