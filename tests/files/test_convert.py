"""Format conversions: streaming, exact, with progress, and clear refusals."""

import datetime as dt
import json

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from files.conversions import ConversionError, conversion_check, convert
from files.conversions import conf as convert_conf
from files.conversions.readers import CsvReader

TRICKY_CSV = (
    "id,text,big,empty_vs_blank,lead\r\n"
    '1,"Zoë — ünïcødé 😀",123456789012345678901234567890,"",007\r\n'
    '2,"say ""hi"", then go",-9223372036854775809,,0.10\r\n'
    '3,"two\nlines\r\nand more",42,x,\r\n'
    '4,,1e400,"  spaced  ",NaN\r\n'
).encode()


def csv_values(path):
    """Every value of a CSV as read by our reader: strings, with None for an
    unquoted empty cell and "" for a quoted empty string."""
    reader = CsvReader(path)
    return pa.Table.from_batches(list(reader), schema=reader.schema).to_pylist()


def test_a_csv_parquet_csv_round_trip_keeps_every_value(tmp_path):
    source = tmp_path / "in.csv"
    source.write_bytes(TRICKY_CSV)

    convert(source, source_fmt="csv", target=tmp_path / "mid.parquet", target_fmt="parquet")
    convert(tmp_path / "mid.parquet", source_fmt="parquet", target=tmp_path / "out.csv", target_fmt="csv")

    original = csv_values(source)
    assert csv_values(tmp_path / "out.csv") == original
    assert original[0] == {
        "id": "1",
        "text": "Zoë — ünïcødé 😀",
        "big": "123456789012345678901234567890",
        "empty_vs_blank": "",
        "lead": "007",
    }
    assert original[1]["empty_vs_blank"] is None
    assert original[1]["text"] == 'say "hi", then go'
    assert original[2]["text"] == "two\nlines\r\nand more"


def test_csv_to_parquet_keeps_values_as_exact_strings(tmp_path):
    source = tmp_path / "in.csv"
    source.write_bytes(TRICKY_CSV)

    convert(source, source_fmt="csv", target=tmp_path / "out.parquet", target_fmt="parquet")

    table = pq.read_table(tmp_path / "out.parquet")
    assert table.schema.types == [pa.string()] * 5
    assert table.column("big").to_pylist() == ["123456789012345678901234567890", "-9223372036854775809", "42", "1e400"]
    assert table.column("lead").to_pylist() == ["007", "0.10", None, "NaN"]


def test_it_converts_a_semicolon_separated_latin1_csv(tmp_path):
    source = tmp_path / "in.csv"
    source.write_bytes("ville;pays\nMontréal;Canada\n".encode("latin-1"))

    convert(source, source_fmt="csv", target=tmp_path / "out.jsonl", target_fmt="jsonl")

    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8") == '{"ville":"Montréal","pays":"Canada"}\n'


def test_it_fails_a_csv_whose_rows_change_width_with_a_reason(tmp_path):
    source = tmp_path / "ragged.csv"
    source.write_text("a,b,c\n1,2,3\n4,5\n")

    with pytest.raises(ConversionError, match="Expected 3 columns, got 2"):
        convert(source, source_fmt="csv", target=tmp_path / "out.parquet", target_fmt="parquet")


def test_it_refuses_a_csv_with_duplicate_header_names(tmp_path):
    source = tmp_path / "dup.csv"
    source.write_text("a,a\n1,2\n")

    with pytest.raises(ConversionError, match="duplicate column names"):
        convert(source, source_fmt="csv", target=tmp_path / "out.json", target_fmt="json")


def test_it_streams_a_csv_in_batches_and_reports_progress(tmp_path, monkeypatch):
    monkeypatch.setattr(convert_conf, "CSV_BLOCK_BYTES", 64 * 1024)
    source = tmp_path / "in.csv"
    source.write_text("n,text\n" + "".join(f"{i},row number {i}\n" for i in range(50_000)))
    calls = []

    result = convert(
        source,
        source_fmt="csv",
        target=tmp_path / "out.parquet",
        target_fmt="parquet",
        progress=lambda done, total: calls.append((done, total)),
    )

    assert result.rows == 50_000
    assert len(calls) > 5  # one per block: the file is never read whole
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1] == (source.stat().st_size, source.stat().st_size)
    assert pq.read_table(tmp_path / "out.parquet").column("n").to_pylist()[-1] == "49999"


def test_it_converts_a_json_array_to_parquet_with_exact_types(tmp_path):
    records = [
        {"i": 1, "f": 1.5, "b": True, "s": "x", "nested": {"k": [1, 2]}, "mixed": 1},
        {"i": 2, "f": 2, "b": False, "s": None, "nested": None, "mixed": "one", "late": "added"},
    ]
    source = tmp_path / "in.json"
    source.write_text(json.dumps(records))

    result = convert(source, source_fmt="json", target=tmp_path / "out.parquet", target_fmt="parquet")

    table = pq.read_table(tmp_path / "out.parquet")
    assert result.columns == ["i", "f", "b", "s", "nested", "mixed", "late"]
    assert table.schema.field("i").type == pa.int64()
    assert table.schema.field("f").type == pa.float64()
    assert table.schema.field("b").type == pa.bool_()
    assert table.to_pylist() == [
        {"i": 1, "f": 1.5, "b": True, "s": "x", "nested": '{"k":[1,2]}', "mixed": "1", "late": None},
        {"i": 2, "f": 2.0, "b": False, "s": None, "nested": None, "mixed": "one", "late": "added"},
    ]


def test_it_converts_json_lines_to_json_and_back(tmp_path):
    lines = [{"a": 1, "b": "ü"}, {"a": 123456789012345678901234567890, "b": None}]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))

    convert(source, source_fmt="jsonl", target=tmp_path / "out.json", target_fmt="json")
    convert(tmp_path / "out.json", source_fmt="json", target=tmp_path / "back.jsonl", target_fmt="jsonl")

    assert json.loads((tmp_path / "out.json").read_text()) == [
        {"a": "1", "b": "ü"},
        {"a": "123456789012345678901234567890", "b": None},
    ]
    assert [json.loads(line) for line in (tmp_path / "back.jsonl").read_text().splitlines()] == [
        {"a": "1", "b": "ü"},
        {"a": "123456789012345678901234567890", "b": None},
    ]


def test_it_fails_invalid_json_with_a_reason(tmp_path):
    source = tmp_path / "bad.json"
    source.write_text('[{"a": 1}, {"a": }]')

    with pytest.raises(ConversionError, match="Invalid JSON"):
        convert(source, source_fmt="json", target=tmp_path / "out.csv", target_fmt="csv")


def test_it_converts_parquet_to_excel_and_excel_to_csv(tmp_path):
    table = pa.table(
        {
            "when": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5), None]),
            "n": pa.array([1, 2], pa.int64()),
            "tags": pa.array([["a", "b"], []]),
        }
    )
    pq.write_table(table, tmp_path / "in.parquet")

    convert(tmp_path / "in.parquet", source_fmt="parquet", target=tmp_path / "out.xlsx", target_fmt="xlsx")
    convert(tmp_path / "out.xlsx", source_fmt="xlsx", target=tmp_path / "out.csv", target_fmt="csv")

    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx").active
    assert [[cell.value for cell in row] for row in sheet.iter_rows()] == [
        ["when", "n", "tags"],
        [dt.datetime(2024, 1, 2, 3, 4, 5), 1, '["a","b"]'],
        [None, 2, "[]"],
    ]
    assert (tmp_path / "out.csv").read_text().splitlines() == [
        '"when","n","tags"',
        '2024-01-02 03:04:05.000000,1,"[""a"",""b""]"',
        ',2,"[]"',
    ]


def test_it_refuses_a_parquet_source_over_the_excel_row_limit_up_front(tmp_path, monkeypatch):
    monkeypatch.setattr(convert_conf, "XLSX_MAX_ROWS", 10)
    pq.write_table(pa.table({"n": list(range(10))}), tmp_path / "in.parquet")

    with pytest.raises(ConversionError, match="over Excel's limit of 10 rows"):
        conversion_check(source_fmt="parquet", target_fmt="xlsx", path=tmp_path / "in.parquet")


def test_it_stops_a_csv_to_excel_conversion_at_the_row_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(convert_conf, "XLSX_MAX_ROWS", 10)
    source = tmp_path / "in.csv"
    source.write_text("n\n" + "".join(f"{i}\n" for i in range(10)))

    with pytest.raises(ConversionError, match="over Excel's limit of 10 rows"):
        convert(source, source_fmt="csv", target=tmp_path / "out.xlsx", target_fmt="xlsx")


def test_it_refuses_a_malformed_parquet_source(tmp_path):
    source = tmp_path / "bad.parquet"
    source.write_bytes(b"PAR1" + b"\x00" * 100 + b"PAR1")

    with pytest.raises(ConversionError, match="Not a readable Parquet file"):
        convert(source, source_fmt="parquet", target=tmp_path / "out.csv", target_fmt="csv")


@pytest.mark.parametrize(
    ("source_fmt", "target_fmt", "message"),
    [
        ("csv", "xml", "Unsupported target format"),
        ("csv", "csv", "already csv"),
        ("image", "csv", "cannot be converted"),
        (None, "csv", "cannot be converted"),
    ],
)
def test_it_refuses_conversions_it_cannot_do(source_fmt, target_fmt, message):
    with pytest.raises(ConversionError, match=message):
        conversion_check(source_fmt=source_fmt, target_fmt=target_fmt)


def test_a_header_only_csv_stays_a_header_only_csv(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("a,b\n")

    result = convert(source, source_fmt="csv", target=tmp_path / "mid.parquet", target_fmt="parquet")
    convert(tmp_path / "mid.parquet", source_fmt="parquet", target=tmp_path / "out.csv", target_fmt="csv")

    assert result.rows == 0
    assert (tmp_path / "out.csv").read_text() == '"a","b"\n'


def test_an_empty_json_array_becomes_an_empty_csv(tmp_path):
    source = tmp_path / "in.json"
    source.write_text("[]")

    result = convert(source, source_fmt="json", target=tmp_path / "out.csv", target_fmt="csv")

    assert result.rows == 0
    assert (tmp_path / "out.csv").read_text() == ""


@pytest.mark.parametrize("count", [10, 50_000])
def test_a_latin1_csv_converts_with_the_fewest_blocks_ahead(tmp_path, monkeypatch, count):
    """Arrow transcodes a non-UTF-8 file ahead of parsing it; pacing the
    reader at 2 blocks ahead left a one-block file waiting forever."""
    monkeypatch.setattr(convert_conf, "CSV_BLOCK_BYTES", 64 * 1024)
    monkeypatch.setattr(convert_conf, "CSV_BLOCKS_AHEAD", 2)
    source = tmp_path / "latin.csv"
    source.write_bytes(("id;name\n" + "".join(f"{i};Grüße café {i}\n" for i in range(count))).encode("latin-1"))

    result = convert(source, source_fmt="csv", target=tmp_path / "out.parquet", target_fmt="parquet")

    assert result.rows == count
    assert pq.read_table(tmp_path / "out.parquet").column("name")[count - 1].as_py() == f"Grüße café {count - 1}"
