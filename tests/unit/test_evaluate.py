"""The eval command: report, threshold sweep, routes written back, PNG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dynamic_model_router.routes_file import DEFAULT_ROUTES_FILE, load_routes
from dynamic_model_router.training.evaluate import main
from dynamic_model_router.training.labelled import read_items

ITEMS = [
    {"text": "I have a rash and a fever, should I see a doctor?", "route": "doctor"},
    {"text": "A box holds 12 eggs. How many boxes for 150 eggs?", "route": "dcot"},
    {"text": "Write a poem about the sea.", "route": "phi2"},
    {"text": "Write a sonnet about spring.", "route": "doctor"},  # deliberately mislabelled
    {
        "messages": [
            {"role": "user", "content": "What dose of paracetamol is safe for adults?"},
            {"role": "assistant", "content": "Up to 4 g a day."},
            {"role": "user", "content": "and for a child?"},
        ],
        "route": "doctor",
    },
]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in ITEMS) + "\n", encoding="utf-8")
    return path


def test_eval_reports_accuracy_confusion_and_misrouted_items(data: Path, tmp_path: Path, capsys):
    png = tmp_path / "report.png"
    fitted = tmp_path / "fitted.yaml"
    assert main([str(data), "--png", str(png), "--write-routes", str(fitted), "--fit", "platt"]) == 0
    out = capsys.readouterr().out
    assert "accuracy: 0.800 (4/5)" in out, out
    assert "confusion (rows: expected, columns: routed to)" in out
    assert "doctor -> phi2" in out and "Write a sonnet about spring." in out
    assert "calibration (platt, n=4)" in out
    assert png.read_bytes().startswith(b"\x89PNG"), "no PNG written"
    written = load_routes(fitted)
    assert [r.name for r in written.routes] == [r.name for r in load_routes(DEFAULT_ROUTES_FILE).routes]
    assert all(r.threshold is not None for r in written.routes), "swept thresholds were not written back"


def test_eval_ends_with_a_table_of_every_set_with_precision_and_recall_split_by_source(
    data: Path, tmp_path: Path, capsys
):
    sourced = tmp_path / "bench.jsonl"
    rows = [
        {**ITEMS[0], "source": "site-a"},
        {**ITEMS[1], "source": "site-b"},
        {**ITEMS[2], "source": "site-b"},
    ]
    sourced.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main([str(data), str(sourced)]) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert table[0] == "| set | items | accuracy | dcot P / R | doctor P / R | phi2 P / R |", table
    assert table[1] == "| labelled.jsonl | 5 | 0.800 | 1.000 / 1.000 | 1.000 / 0.667 | 0.500 / 1.000 |", table
    assert table[2].startswith("| bench.jsonl | 3 | 1.000 |"), table
    assert table[3] == "| bench.jsonl: site-a | 1 | 1.000 | - | 1.000 / 1.000 | - |", table
    assert table[4].startswith("| bench.jsonl: site-b | 2 | 1.000 | 1.000 / 1.000 |"), table


def test_bad_lines_are_reported_with_file_and_line(tmp_path: Path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok", "route": "phi2"}\n{"route": "phi2"}\n', encoding="utf-8")
    with pytest.raises(SystemExit, match=r"bad.jsonl:2: expected"):
        read_items(path)


def test_compare_prints_one_row_per_routes_file_with_its_encoder_and_accuracy(
    data: Path, tmp_path: Path, capsys
):
    routes = yaml.safe_load(DEFAULT_ROUTES_FILE.read_text(encoding="utf-8"))
    routes["routes"] = routes["routes"][:1]  # only doctor: everything else goes to the base model
    narrow = tmp_path / "doctor-only.yaml"
    narrow.write_text(yaml.safe_dump(routes), encoding="utf-8")
    assert main([str(data), "--compare", str(DEFAULT_ROUTES_FILE), str(narrow)]) == 0
    header, rule, default, doctor_only = capsys.readouterr().out.strip().splitlines()
    assert header.startswith("| routes | encoder | model MB | labelled.jsonl |"), header
    assert default.startswith(
        "| routes.yaml | sentence-transformers/all-MiniLM-L6-v2 (shipped) | 23 | 0.800 |"
    )
    assert doctor_only.startswith("| doctor-only.yaml |") and "| 0.600 |" in doctor_only, doctor_only
