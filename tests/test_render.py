"""Rendering pieces: paper-row matching, paired tests, table summaries, provenance, diagrams."""

import hashlib
import json
import math
import os
import re
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon

from ifrnet.bench.render.build import paper_caption
from ifrnet.bench.render.diagrams import ifrnet_diagram, model_settings
from ifrnet.bench.render.labels import unique_labels
from ifrnet.bench.render.paper import cell_keys, load_published, paired_p_value, paper_row
from ifrnet.bench.render.provenance import config_sha256, write_provenance
from ifrnet.bench.render.tables import Cell, best_rows, summarise, tex_escape, to_latex, to_markdown
from ifrnet.util.io import file_sha256
from tests import tools
from tests.workflow_helpers import ROOT

PUBLISHED = load_published(ROOT / "config" / "published.yaml")


# SHA-256 of the canonical JSON of every table's published rows in config/published.yaml, as
# transcribed from the paper: an edit to a published number fails here (titles, notes and
# comments may change freely).
PUBLISHED_ROWS_SHA256 = "9d74155fc1b9c7fa1649a12be81392222ecec8bc856574a967f3284e55eed006"


def test_published_numbers_are_the_transcribed_ones():
    import yaml

    data = yaml.safe_load((ROOT / "config" / "published.yaml").read_text())
    rows = {table: spec["rows"] for table, spec in data["tables"].items()}
    assert config_sha256(rows) == PUBLISHED_ROWS_SHA256


def test_paper_rows_are_found_by_their_fields():
    assert paper_row(PUBLISHED, "IV", {"rate": 0.1, "method": "IFR-Net"})["psnr"] == 30.0663
    assert paper_row(PUBLISHED, "V", {"mask": "radial", "method": "ADMM-Net"})["ssim"] == 0.9374
    assert paper_row(PUBLISHED, "IV", {"rate": 0.5, "method": "IFR-Net"}) is None
    with pytest.raises(ValueError, match="match 4 rows"):
        paper_row(PUBLISHED, "IV", {"method": "IFR-Net"})


def test_cell_keys_merge_mask_and_model_fields():
    spec = {"paper_keys": {"masks": {"m": {"rate": 0.2}}, "models": {"net": {"method": "X"}}}}
    assert cell_keys(spec, "m", "net") == {"rate": 0.2, "method": "X"}
    assert cell_keys(spec, "m", "other") is None


def test_table_vii_has_a_vn_row_without_a_paper_value_and_says_why():
    import yaml

    spec = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["tables"]["table_VII"]
    assert "vn" in spec["models"]
    for mask in spec["masks"]:
        assert paper_row(PUBLISHED, "VII", cell_keys(spec, mask, "vn")) is None
        assert paper_row(PUBLISHED, "VII", cell_keys(spec, mask, "d5c5")) is not None
    caption = paper_caption(spec, PUBLISHED)  # the note of config/published.yaml's Table VII
    assert caption.startswith(" Paper: Table VII (") and "reports no VN values" in caption


def test_paired_p_value_matches_the_exact_signed_rank_distribution():
    ours = np.array([5.0, 6, 7, 8, 9])
    # All five differences positive: P = 2 · (1/2⁵) = 0.0625 exactly.
    assert paired_p_value(ours, ours - np.arange(1, 6)) == pytest.approx(0.0625)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=12), rng.normal(size=12)
    assert paired_p_value(a, b) == pytest.approx(wilcoxon(a, b).pvalue)
    assert math.isnan(paired_p_value(ours, ours))
    assert math.isnan(paired_p_value(ours[:1], ours[:1] + 1))


def _metrics(path, psnr):
    pd.DataFrame({"psnr": psnr, "ssim": 0.9, "hfen": 0.1, "nmse": 0.01, "seconds": 0.5}).to_csv(
        path, index=False
    )
    return path


def test_summary_holds_ours_paper_difference_and_p(tmp_path):
    cells = [
        Cell(
            "m",
            0.2,
            "ifrcs",
            (_metrics(tmp_path / "a.csv", [30.0, 32.0, 34.0]),),
            {"psnr": 33.0, "hfen": 0.2, "ssim": 0.95},
        ),
        Cell("m", 0.2, "net", (_metrics(tmp_path / "b.csv", [31.0, 33.5, 36.0]),), None),
    ]
    summary = summarise(cells, reference="net").set_index("model")
    assert summary.loc["ifrcs", "psnr_mean"] == pytest.approx(32.0)
    assert summary.loc["ifrcs", "psnr_std"] == pytest.approx(np.std([30, 32, 34]))
    assert summary.loc["ifrcs", "psnr_diff"] == pytest.approx(-1.0)
    assert summary.loc["ifrcs", "hfen_diff"] == pytest.approx(-0.1)
    assert math.isnan(summary.loc["net", "psnr_paper"]) and math.isnan(summary.loc["net", "p_psnr"])
    assert summary.loc["ifrcs", "p_psnr"] == pytest.approx(
        wilcoxon([31, 33.5, 36], [30, 32, 34]).pvalue
    )
    md = to_markdown(summary.reset_index(), "T", "caption")
    assert "| 32.00 ± 1.63 | 33.00 | -1.00 |" in md
    tex = to_latex(summary.reset_index(), "T", "caption")
    assert r"$\Delta$" in tex and "±" not in tex


def _two_masks(tmp_path):
    cells = [
        Cell(
            mask,
            0.25,
            model,
            (_metrics(tmp_path / f"{mask}-{model}.csv", psnr),),
            {"psnr": 31.0} if psnr[0] == 30.0 else None,
            label,
        )
        for mask, model, label, psnr in (
            ("radial", "ifrnet-s9-k2-l8-dct", "IFR-Net (K = 2)", [30.0, 31.0]),
            ("radial", "ifrnet-s9-k3-l8-dct", "IFR-Net (K = 3)", [32.0, 33.0]),
            ("random", "ifrnet-s9-k2-l8-dct", "IFR-Net (K = 2)", [35.0, 36.0]),
            ("random", "ifrnet-s9-k3-l8-dct", "IFR-Net (K = 3)", [34.0, 33.0]),
        )
    ]
    return summarise(cells)


def test_rows_show_labels_and_the_best_mean_per_mask_in_bold(tmp_path):
    summary = _two_masks(tmp_path)
    assert list(summary["label"]) == ["IFR-Net (K = 2)", "IFR-Net (K = 3)"] * 2
    assert best_rows(summary)["psnr"] == {1, 2}  # per mask, not over the whole table
    md = to_markdown(summary, "T", "c")
    assert "ifrnet-s9" not in md
    assert "| IFR-Net (K = 3) | **32.50 ± 0.50** |" in md
    assert "| IFR-Net (K = 2) | 30.50 ± 0.50 |" in md
    assert "| 0.5 |" in md and "0.500 ±" not in md  # seconds: the mean, no per-batch std
    assert "seconds_std" not in summary.columns


def test_labels_tell_models_of_one_method_apart():
    config = {
        "models": {
            "a": {"method": "ifrnet", "params": {"stages": 9, "blocks": 2, "filters": 8}},
            "b": {"method": "ifrnet", "params": {"stages": 9, "blocks": 3, "filters": 8}},
            "c": {"method": "ifrnet", "label": "IFR-Net (shared)", "params": {"blocks": 2}},
            "d": {"method": "ifrcs"},
            "e": {"method": "my.module:Mine"},
            "f": {"method": "unet", "params": {"chans": 4}},
            "g": {"method": "unet"},
        }
    }
    assert unique_labels(config, list("abcde")) == {
        "a": "IFR-Net (K = 2)",
        "b": "IFR-Net (K = 3)",
        "c": "IFR-Net (shared)",
        "d": "IFR-CS",
        "e": "e",
    }
    assert unique_labels(config, ["f", "g"]) == {"f": "U-Net (chans = 4)", "g": "U-Net (g)"}


def test_tex_escape_leaves_ascii_latex():
    text = "Δ = ours − paper – 25 % × 2 — μ_1 & λ ± σ, café {x} #3 ~ ^ \\ ✓"
    tex = tex_escape(text)
    assert tex.isascii()
    assert tex == (
        r"$\Delta$ = ours $-$ paper -- 25 \% $\times$ 2 --- $\mu$\_1 \& $\lambda$ "
        r"$\pm$ $\sigma$, cafe \{x\} \#3 \textasciitilde{} \textasciicircum{} "
        r"\textbackslash{} ?"
    )


LATEX_DOC = r"""\documentclass[10pt,twocolumn]{article}
\usepackage[paperwidth=8.5in,paperheight=11in,textwidth=7.16in,textheight=9.5in,
            columnsep=0.24in]{geometry}
\usepackage{booktabs,graphicx}
\begin{document}
%s
\end{document}
"""


def compile_latex(table: str, tmp_path) -> str:
    """The log of pdflatex run on ``table`` in an IEEE-like two-column page (it must compile).
    Skips where pdflatex is missing, except in CI, where that fails (tests/tools.py)."""
    pdflatex = tools.require("pdflatex")
    (tmp_path / "t.tex").write_text(LATEX_DOC % table)
    run = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = (tmp_path / "t.log").read_text(errors="replace")
    assert run.returncode == 0, log[-3000:]
    return log


def test_latex_table_spans_both_columns_and_compiles_without_overfull_boxes(tmp_path):
    summary = _two_masks(tmp_path)
    caption = "Ours: mean ± std; Δ = ours − paper – 25 % pseudo-radial; 128×128"
    tex = to_latex(summary, "Table II — K = 2, 3", caption, label="table_II")
    assert tex.isascii() and r"\begin{table*}" in tex and r"\resizebox" in tex
    assert r"\textbf{32.50$\pm$0.50}" in tex and r" & 31.00 & $-$0.50 & " in tex
    assert r"\label{tab:table_II}" in tex
    assert tex.count(r"\emph{radial") == 1 and tex.count(r"\emph{random") == 1
    log = compile_latex(tex, tmp_path)
    assert "Overfull" not in log and "Missing character" not in log


def test_the_latex_check_sees_a_table_that_overflows(tmp_path):
    """The check above can fail: the same table at normal size, without its shrink to
    \\textwidth, overflows the page."""
    tex = to_latex(_two_masks(tmp_path), "Table II", "caption", label="table_II")
    unshrunk = re.sub(r"\\resizebox\{[^}]*\}\{!\}\{%?", "{", tex).replace(r"\scriptsize", "")
    assert unshrunk.count("{") == unshrunk.count("}") and r"\resizebox" not in unshrunk
    assert "Overfull" in compile_latex(unshrunk, tmp_path)


def test_provenance_records_hashes(tmp_path):
    data = tmp_path / "input.bin"
    data.write_bytes(b"abc")
    artefact = tmp_path / "fig99.png"
    path = write_provenance(artefact, {"seed": 3, "b": 1}, [data])
    record = json.loads(path.read_text())
    assert path.name == "fig99.prov.json" and record["seed"] == 3
    assert record["inputs"][str(data)] == hashlib.sha256(b"abc").hexdigest() == file_sha256(data)
    assert record["config_sha256"] == config_sha256({"b": 1, "seed": 3})
    assert record["config_sha256"] != config_sha256({"b": 2, "seed": 3})


def test_provenance_keeps_the_config_without_secrets_and_the_machine(tmp_path):
    import torch
    import yaml

    config = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    config["models"]["mine"] = {
        "method": "zero-filled",
        "params": {"weights": "https://host/w.pt?token=s3cr3t#x"},
    }
    path = write_provenance(tmp_path / "table_IV.csv", config, [])
    text = path.read_text()
    record = json.loads(text)
    assert "s3cr3t" not in text
    assert record["config"]["models"]["mine"]["params"]["weights"] == "https://host/w.pt?…"
    del record["config"]["models"]["mine"], config["models"]["mine"]
    assert record["config"] == config  # everything else as given: a run can start from it
    assert record["device"] == config["device"]
    machine = record["hardware"]
    assert machine["torch"] == torch.__version__ and machine["cuda"] == torch.version.cuda
    assert machine["cpu"] and machine["cpu_cores"] == os.cpu_count()
    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert len(machine["gpus"]) == visible and all(isinstance(g, str) for g in machine["gpus"])


def test_ifrnet_diagram_follows_the_architecture():
    def texts(settings):
        fig = ifrnet_diagram(settings)
        return " ".join(t.get_text() for t in fig.axes[0].texts)

    nominal = texts(model_settings({"params": {}}))
    assert "N = 9 stages" in nominal and "K = 2 CNN blocks" in nominal and "$X^{(10)}$" in nominal
    shared = texts(
        model_settings({"params": {"stages": 3, "blocks": 4, "share_weights": True, "filters": 16}})
    )
    assert "N = 3 stages (shared" in shared and "C1: 16 filters" in shared
    assert "$Z^{(3)}$" in shared and "…" not in shared
