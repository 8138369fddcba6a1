"""Excel preview: openpyxl read-only for .xlsx, xlrd for legacy .xls."""

import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import xlrd

from files.previews.base import Limits, Preview, PreviewError, data_preview


def _pick(names: list[str], wanted: str | None) -> str:
    if wanted is None:
        if not names:
            raise PreviewError("The workbook has no sheets.")
        return names[0]
    if wanted not in names:
        raise PreviewError(f"No sheet named {wanted!r}; sheets: {', '.join(names)}.")
    return wanted


def preview_xlsx(path: Path, limits: Limits) -> Preview:
    # A file object, not the path: stored blobs have no extension, and
    # openpyxl refuses paths that do not end in .xlsx.
    with open(path, "rb") as handle:
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise PreviewError(f"Not a readable Excel workbook: {exc}") from None
        try:
            return _preview_sheet(workbook, limits)
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise PreviewError(f"Not a readable Excel workbook: {exc}") from None
        finally:
            workbook.close()


def _preview_sheet(workbook, limits: Limits) -> Preview:
    name = _pick(workbook.sheetnames, limits.sheet)
    sheet = workbook[name]
    rows_iter = sheet.iter_rows(max_row=limits.rows + 1, values_only=True)
    header = next(rows_iter, None)
    if header is None:
        return data_preview([], [], total_rows=0, total_columns=0, sheet=name, sheets=workbook.sheetnames)
    names = ["" if value is None else str(value) for value in header]
    rows = [list(row[: limits.columns]) for row in rows_iter]
    # The declared dimension is free to read but written by whatever
    # produced the file; report it as such rather than counting rows.
    declared = sheet.max_row if sheet.max_row else None
    return data_preview(
        names[: limits.columns],
        rows,
        total_rows=declared - 1 if declared else None,
        total_columns=len(names),
        sheet=name,
        sheets=workbook.sheetnames,
    )


def preview_xls(path: Path, limits: Limits) -> Preview:
    try:
        # on_demand loads only the sheet we read; .xls files are capped at
        # 65,536 rows by the format, so this stays small.
        book = open_xls(path)
    except Exception as exc:  # xlrd raises IndexError, struct.error, CompDocError... for broken files
        raise PreviewError(f"Not a readable .xls workbook: {exc}") from None
    try:
        names = book.sheet_names()
        name = _pick(names, limits.sheet)
        try:
            sheet = book.sheet_by_name(name)
        except Exception as exc:  # a sheet's records are parsed only now
            raise PreviewError(f"Not a readable .xls workbook: {exc}") from None
        if sheet.nrows == 0:
            return data_preview([], [], total_rows=0, total_columns=0, sheet=name, sheets=names)
        header = ["" if value is None else str(value) for value in _xls_row(sheet, 0, book.datemode)]
        rows = [
            _xls_row(sheet, index, book.datemode, end=min(limits.columns, sheet.ncols))
            for index in range(1, min(sheet.nrows, limits.rows + 1))
        ]
        total = sheet.nrows - 1
    finally:
        book.release_resources()
    return data_preview(
        header[: limits.columns], rows, total_rows=total, total_columns=len(header), sheet=name, sheets=names
    )


def open_xls(path: Path) -> xlrd.book.Book:
    """An .xls workbook with sheets loaded on demand. xlrd prints its
    warnings about damaged files to stdout unless given somewhere else."""
    return xlrd.open_workbook(str(path), on_demand=True, logfile=io.StringIO())


def _xls_row(sheet: xlrd.sheet.Sheet, index: int, datemode: int, *, end: int | None = None) -> list[Any]:
    return [xls_cell_value(cell, datemode) for cell in sheet.row_slice(index, 0, end)]


def xls_cell_value(cell: xlrd.sheet.Cell, datemode: int) -> Any:
    """A .xls cell as the value it shows: .xls stores every number as a
    float, dates as day counts and booleans as 0/1, each with a cell type
    that says which it is."""
    if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
        return None
    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate.xldate_as_datetime(cell.value, datemode)
        except (xlrd.xldate.XLDateError, OverflowError, ValueError):
            return cell.value  # a date format on a number no calendar has
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(cell.value)
    if cell.ctype == xlrd.XL_CELL_NUMBER and float(cell.value).is_integer():
        return int(cell.value)
    return cell.value
