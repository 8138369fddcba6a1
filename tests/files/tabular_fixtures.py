"""Small tabular files of every convertible type, made by code.

`.xls` is written with xlwt (the legacy-Excel writer xlrd reads back), so no
binary fixture is checked in.
"""

import datetime as dt
import io
import json

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import xlwt

# (filename, file_type) of each source type a conversion reads.
SOURCES = {
    "csv": ("data.csv", "csv"),
    "json": ("data.json", "json"),
    "jsonl": ("data.jsonl", "json"),
    "xlsx": ("data.xlsx", "excel"),
    "xls": ("data.xls", "excel"),
    "parquet": ("data.parquet", "parquet"),
}


def records(count: int) -> list[dict]:
    return [{"id": index, "name": f"row {index}"} for index in range(1, count + 1)]


def tabular_bytes(kind: str, count: int) -> bytes:
    """`count` data rows (plus a header where the format has one) as `kind`."""
    rows = records(count)
    if kind == "csv":
        return ("id,name\n" + "".join(f"{r['id']},{r['name']}\n" for r in rows)).encode()
    if kind == "json":
        return json.dumps(rows).encode()
    if kind == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in rows).encode()
    if kind == "xlsx":
        return xlsx_bytes({"Sheet1": [["id", "name"], *[[r["id"], r["name"]] for r in rows]]})
    if kind == "xls":
        return xls_bytes({"Sheet1": [["id", "name"], *[[r["id"], r["name"]] for r in rows]]})
    if kind == "parquet":
        buffer = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(rows), buffer)
        return buffer.getvalue().to_pybytes()
    raise ValueError(kind)


def xlsx_bytes(sheets: dict[str, list[list]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xls_bytes(sheets: dict[str, list[list]]) -> bytes:
    """A legacy .xls workbook; None cells are left empty, datetimes get a
    date format (which is how .xls tells a date from a number)."""
    book = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM:SS")
    for name, rows in sheets.items():
        sheet = book.add_sheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, dt.datetime):
                    sheet.write(r, c, value, date_style)
                else:
                    sheet.write(r, c, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
