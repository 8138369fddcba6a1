"""Preview engines: the first rows of a data file, the head of a text file,
an image thumbnail — reading only what the preview needs."""

import io
import json
import struct
import zlib

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from files.previews import PreviewError, format_of, preview_build
from files.previews import conf as preview_conf
from files.previews.jsonstream import JsonRecords, JsonStreamError


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_it_previews_a_csv_with_names_types_and_rows(tmp_path):
    path = write(tmp_path, "a.csv", 'id,price,name,when\n1,2.5,"Zoë",2024-01-02\n2,3,"two\nlines",2024-02-03\n')

    data = preview_build(path, fmt="csv").data

    assert data["kind"] == "data"
    assert data["columns"] == [
        {"name": "id", "type": "integer"},
        {"name": "price", "type": "float"},
        {"name": "name", "type": "string"},
        {"name": "when", "type": "date"},
    ]
    assert data["rows"] == [["1", "2.5", "Zoë", "2024-01-02"], ["2", "3", "two\nlines", "2024-02-03"]]
    assert data["total_rows"] is None


def test_it_sniffs_the_delimiter_and_limits_rows_and_columns(tmp_path):
    lines = ["a;b;c;d"] + [f"{i};{i * 2};x{i};y" for i in range(100)]
    path = write(tmp_path, "semi.csv", "\n".join(lines) + "\n")

    data = preview_build(path, fmt="csv", rows=3, columns=2).data

    assert data["delimiter"] == ";"
    assert [c["name"] for c in data["columns"]] == ["a", "b"]
    assert data["rows"] == [["0", "0"], ["1", "2"], ["2", "4"]]
    assert data["total_columns"] == 4


def test_it_caps_rows_and_columns_at_the_configured_maximum(tmp_path, monkeypatch):
    monkeypatch.setattr(preview_conf, "MAX_ROWS", 2)
    path = write(tmp_path, "a.csv", "a\n1\n2\n3\n4\n")

    assert len(preview_build(path, fmt="csv", rows=1000).data["rows"]) == 2


def test_it_decodes_a_latin1_csv(tmp_path):
    path = write(tmp_path, "l1.csv", "ville,pays\nMontréal,Canada\nZürich,Schweiz\n".encode("latin-1") * 1)

    data = preview_build(path, fmt="csv").data

    assert data["rows"][0][0] == "Montréal"
    assert data["rows"][1][0] == "Zürich"


def test_it_previews_the_head_of_a_huge_csv_without_reading_the_rest(tmp_path):
    """GIVEN a 5 GiB CSV (sparse: only its head holds data)
    WHEN it is previewed
    THEN the first rows come back; reading on would hit NUL bytes and fail."""
    path = tmp_path / "huge.csv"
    head = "n,square\n" + "".join(f"{i},{i * i}\n" for i in range(20_000))
    with open(path, "wb") as handle:
        handle.write(head.encode())
        handle.truncate(5 * 1024**3)

    data = preview_build(path, fmt="csv", rows=5).data

    assert data["rows"] == [["0", "0"], ["1", "1"], ["2", "4"], ["3", "9"], ["4", "16"]]


def test_it_shows_a_ragged_csv_padded_to_the_header(tmp_path):
    path = write(tmp_path, "r.csv", "a,b,c\n1,2,3\n4\n")

    assert preview_build(path, fmt="csv").data["rows"] == [["1", "2", "3"], ["4", None, None]]


def test_it_refuses_a_binary_file_as_csv(tmp_path):
    path = write(tmp_path, "bin.csv", b"\x00\x01\x02" * 100)

    with pytest.raises(PreviewError, match="binary"):
        preview_build(path, fmt="csv")


def test_it_previews_a_json_array_of_objects(tmp_path):
    records = [{"a": 1, "b": {"x": 1}}, {"a": 2.5, "c": "2020-01-01"}]
    path = write(tmp_path, "a.json", json.dumps(records))

    data = preview_build(path, fmt="json").data

    assert [c["name"] for c in data["columns"]] == ["a", "b", "c"]
    assert [c["type"] for c in data["columns"]] == ["float", "object", "date"]
    assert data["rows"] == [[1, {"x": 1}, None], [2.5, None, "2020-01-01"]]
    assert data["format"] == "json"


def test_it_previews_json_lines(tmp_path):
    path = write(tmp_path, "a.jsonl", '{"a": 1}\n\n{"a": 2}\n{"a": 3}\n')

    data = preview_build(path, fmt="jsonl", rows=2).data

    assert data["rows"] == [[1], [2]]


def test_it_reports_invalid_json_with_a_reason(tmp_path):
    path = write(tmp_path, "bad.json", '[{"a": 1}, {"a": ]')

    with pytest.raises(PreviewError, match="Invalid JSON"):
        preview_build(path, fmt="json")


def test_it_streams_json_records_across_chunk_boundaries(tmp_path):
    # Chunks of 7 characters cut numbers, strings and literals in half.
    values = [123456789, "a long string value", True, None, {"k": [1, 2, 3]}, 1.5e10]
    path = write(tmp_path, "a.json", json.dumps(values))

    assert list(JsonRecords(path, max_record=1000, chunk=7)) == values


def test_it_refuses_a_json_record_over_the_record_limit(tmp_path):
    path = write(tmp_path, "big.json", '[{"a": "' + "x" * 5000 + '"}]')

    with pytest.raises(JsonStreamError, match="larger than"):
        list(JsonRecords(path, max_record=1000, chunk=256))


def make_workbook(path, sheets):
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def test_it_previews_the_first_sheet_of_a_workbook_or_the_one_asked_for(tmp_path):
    path = make_workbook(tmp_path / "w.xlsx", {"one": [["a", "b"], [1, "x"], [2, "y"]], "two": [["z"], [True]]})

    first = preview_build(path, fmt="xlsx").data
    second = preview_build(path, fmt="xlsx", sheet="two").data

    assert first["sheet"] == "one" and first["sheets"] == ["one", "two"]
    assert first["rows"] == [[1, "x"], [2, "y"]]
    assert first["columns"] == [{"name": "a", "type": "integer"}, {"name": "b", "type": "string"}]
    assert first["total_rows"] == 2
    assert second["rows"] == [[True]]


def test_it_says_which_sheets_exist_when_asked_for_a_missing_one(tmp_path):
    path = make_workbook(tmp_path / "w.xlsx", {"one": [["a"]]})

    with pytest.raises(PreviewError, match="sheets: one"):
        preview_build(path, fmt="xlsx", sheet="nope")


def test_it_refuses_a_truncated_workbook(tmp_path):
    path = make_workbook(tmp_path / "w.xlsx", {"one": [["a"], [1]]})
    path.write_bytes(path.read_bytes()[:300])

    with pytest.raises(PreviewError, match="Not a readable Excel workbook"):
        preview_build(path, fmt="xlsx")


def test_it_previews_parquet_with_its_row_count_and_types(tmp_path):
    table = pa.table({"n": pa.array(range(1000), pa.int64()), "s": [f"v{i}" for i in range(1000)]})
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=100)

    data = preview_build(path, fmt="parquet", rows=3, columns=1).data

    assert data["total_rows"] == 1000
    assert data["total_columns"] == 2
    assert data["columns"] == [{"name": "n", "type": "int64"}]
    assert data["rows"] == [[0], [1], [2]]


def test_it_refuses_a_malformed_parquet_file(tmp_path):
    path = write(tmp_path, "bad.parquet", b"PAR1" + b"garbage" * 10 + b"PAR1")

    with pytest.raises(PreviewError, match="Not a readable Parquet file"):
        preview_build(path, fmt="parquet")


def test_it_shows_the_head_of_a_text_file_in_its_encoding(tmp_path):
    path = write(tmp_path, "notes.txt", "Grüße aus Köln\nzweite Zeile\n".encode("utf-16"))

    data = preview_build(path, fmt="text").data

    assert data["kind"] == "text"
    assert data["encoding"] == "utf-16"
    assert data["text"] == "Grüße aus Köln\nzweite Zeile"


def test_it_limits_a_text_preview_to_the_rows_asked_for(tmp_path):
    path = write(tmp_path, "log.txt", "".join(f"line {i}\n" for i in range(1000)))

    data = preview_build(path, fmt="text", rows=2).data

    assert data["text"] == "line 0\nline 1"
    assert data["truncated"] is True


def test_it_makes_a_thumbnail_of_an_image(tmp_path):
    path = tmp_path / "photo.png"
    Image.new("RGB", (1000, 500), "red").save(path)

    preview = preview_build(path, fmt="image")

    assert preview.data["kind"] == "image"
    assert (preview.data["width"], preview.data["height"]) == (1000, 500)
    assert preview.thumbnail_content_type == "image/jpeg"
    thumb = Image.open(io.BytesIO(preview.thumbnail))
    assert thumb.size == (preview_conf.THUMBNAIL_SIZE, preview_conf.THUMBNAIL_SIZE // 2)


def png_header_only(width, height):
    """A tiny PNG that claims huge dimensions: a decompression bomb."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def test_it_refuses_an_image_bomb(tmp_path):
    path = write(tmp_path, "bomb.png", png_header_only(100_000, 100_000))

    with pytest.raises(PreviewError, match="decompression bomb"):
        preview_build(path, fmt="image")


def test_it_refuses_an_image_over_the_configured_pixel_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(preview_conf, "MAX_IMAGE_PIXELS", 100)
    path = tmp_path / "big.png"
    Image.new("L", (20, 20)).save(path)

    with pytest.raises(PreviewError, match="pixel limit"):
        preview_build(path, fmt="image")


def test_it_refuses_a_file_that_is_not_an_image(tmp_path):
    path = write(tmp_path, "fake.png", b"not an image at all")

    with pytest.raises(PreviewError, match="Not a readable image"):
        preview_build(path, fmt="image")


@pytest.mark.parametrize(
    ("filename", "file_type", "expected"),
    [
        ("a.csv", "csv", "csv"),
        ("a.JSONL", "json", "jsonl"),
        ("a.ndjson", None, "jsonl"),
        ("a.xls", "excel", "xls"),
        ("a.xlsx", "excel", "xlsx"),
        ("data.bin", "parquet", "parquet"),
        ("a.png", "image", "image"),
        ("a.txt", "text", "text"),
        ("a.pdf", "pdf", None),
    ],
)
def test_it_picks_the_reader_from_type_and_extension(filename, file_type, expected):
    assert format_of(filename, file_type) == expected
