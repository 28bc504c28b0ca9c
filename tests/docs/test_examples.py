"""The examples in docs/examples run, the notebook in a real Jupyter kernel (nbclient)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def test_timing_notebook_executes_and_writes_its_plot(tmp_path, monkeypatch):
    monkeypatch.setenv("PARALLAX_EXAMPLE_SECONDS", "3")
    monkeypatch.setenv("PARALLAX_EXAMPLE_PLOT", str(tmp_path / "timing.png"))
    notebook = nbformat.read(EXAMPLES / "timing.ipynb", as_version=4)
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    plot = tmp_path / "timing.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    kinds = {kind for out in outputs for kind in out.get("data", {})}
    assert {"image/svg+xml", "text/html", "image/png"} <= kinds  # pipeline, report, figure
    report_html = next(
        out["data"]["text/html"] for out in outputs if "text/html" in out.get("data", {})
    )
    assert "<td>video (video)</td><td>90</td>" in report_html
    assert "<td>audio (audio)</td><td>141</td>" in report_html


def test_timing_report_script(tmp_path):
    plot = tmp_path / "t.png"
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "timing_report.py"), "--seconds", "1", "--plot", str(plot)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "video: 30 buffers, PTS span 0:00:00.966666666 (duration 0:00:01.000000000)" in (
        result.stdout
    )
    assert "audio: 47 buffers" in result.stdout and "gaps 0 (0 dropped)" in result.stdout
    assert plot.stat().st_size > 0
