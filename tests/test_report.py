"""The HTML report, checked by parsing it: order, headings, table layout, best marks,
contents, captions, provenance, self-containment; and the end-of-run summary."""

import re
import subprocess
from html.parser import HTMLParser

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from ifrnet.bench.render.provenance import write_provenance  # noqa: E402
from ifrnet.bench.render.report import artefact_key, build_report, heading, roman_value  # noqa: E402
from ifrnet.bench.render.summary import run_summary  # noqa: E402
from ifrnet.bench.render.tables import Cell, summarise, write_table  # noqa: E402
from tests import tools  # noqa: E402


class Page(HTMLParser):
    """Collects what the tests look at: headings, ids, links, tables (rows of cells with their
    tag, colspan and whether they hold <strong>), figures, external references."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[tuple[str, str]] = []
        self.ids: list[str] = []
        self.links: list[str] = []
        self.external: list[str] = []
        self.tables: list[list[list[dict]]] = []
        self.figcaptions: list[str] = []
        self.tags: list[str] = []
        self._text: list[str] | None = None
        self._cell: dict | None = None
        self._caption = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        for key in ("src", "href"):
            value = attrs.get(key, "")
            if key == "href" and value.startswith("#"):
                self.links.append(value[1:])
            elif value and not value.startswith(("#", "data:")):
                self.external.append(value)
        if tag in ("h1", "h2", "h3"):
            self._text = [tag]
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = {
                "tag": tag,
                "colspan": int(attrs.get("colspan", 1)),
                "text": "",
                "strong": False,
            }
            self.tables[-1][-1].append(self._cell)
        elif tag == "strong" and self._cell is not None:
            self._cell["strong"] = True
        elif tag == "figcaption":
            self._caption = True
            self.figcaptions.append("")

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3") and self._text:
            self.headings.append((self._text[0], "".join(self._text[1:]).strip()))
            self._text = None
        elif tag in ("td", "th"):
            self._cell = None
        elif tag == "figcaption":
            self._caption = False

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)
        if self._cell is not None:
            self._cell["text"] += data
        if self._caption:
            self.figcaptions[-1] += data


def test_roman_numerals_and_figure_numbers_sort_by_value():
    assert [roman_value(n) for n in ("II", "IV", "IX", "X", "XIV", "Q", "")] == [
        2,
        4,
        9,
        10,
        14,
        None,
        None,
    ]
    tables = ["table_IX", "table_II", "table_X", "table_V", "table_III", "table_IV"]
    assert sorted(tables, key=artefact_key) == [
        "table_II",
        "table_III",
        "table_IV",
        "table_V",
        "table_IX",
        "table_X",
    ]
    assert sorted(["fig10", "fig02", "fig1"], key=artefact_key) == ["fig1", "fig02", "fig10"]
    assert sorted(["zz", "table_X", "aa"], key=artefact_key) == ["table_X", "aa", "zz"]
    assert heading("table_IX") == "Table IX" and heading("fig07") == "Fig. 7"
    assert heading("my_table") == "my_table"


def _metrics(path, psnr, seconds=0.25):
    pd.DataFrame(
        {"psnr": psnr, "ssim": [0.9, 0.8], "hfen": [0.1, 0.2], "nmse": 0.01, "seconds": seconds}
    ).to_csv(path, index=False)
    return path


@pytest.fixture
def report(tmp_path):
    """A report of three tables (written in string order IX, II, X), one figure, captions,
    provenance sidecars and benchmark records."""
    art, captions, bench = (tmp_path / d for d in ("art", "captions", "bench"))
    for d in (art, captions, bench / "table"):
        d.mkdir(parents=True)
    config = {"seed": 0, "device": "cpu", "tables": {}}
    tables = []
    for name in ("table_IX", "table_II", "table_X"):
        cells = [
            Cell(
                mask,
                0.25,
                model,
                (_metrics(tmp_path / f"{name}{mask}{model}.csv", psnr),),
                {"psnr": 30.0, "ssim": 0.9, "hfen": 0.1} if model == "ifrcs" else None,
                label,
            )
            for mask, model, label, psnr in (
                ("radial-r0.25", "ifrcs", "IFR-CS", [30.0, 31.0]),
                ("radial-r0.25", "ifrnet-s9-k2-l8-dct", "IFR-Net", [33.0, 34.0]),
                ("random2d-r0.25", "ifrcs", "IFR-CS", [36.0, 37.0]),
                ("random2d-r0.25", "ifrnet-s9-k2-l8-dct", "IFR-Net", [35.0, 34.0]),
            )
        ]
        config["tables"][name] = {"title": f"Title of {name} – ±"}
        csv = write_table(
            summarise(cells, "ifrnet-s9-k2-l8-dct"),
            art,
            name,
            f"Title of {name} – ±",
            f"Generated caption of {name}.",
        )[0]
        write_provenance(csv, config, [])
        (captions / f"{name}.rst").write_text(f"Paper Table: caption of {name}.")
        tables.append(csv)
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1])
    fig.savefig(art / "fig07.png")
    plt.close(fig)
    (captions / "fig07.rst").write_text("Paper Fig. 7: Reconstructions at 10 %; more text.")
    (bench / "table" / "a.tsv").write_text("s\th:m:s\n60.5\t0:01:00\n")
    (bench / "table" / "b.tsv").write_text("s\th:m:s\n3600\t1:00:00\n")
    out = build_report(
        tables,
        [art / "fig07.png"],
        captions,
        tmp_path / "report.html",
        config=config,
        benchmarks=bench,
    )
    text = out.read_text(encoding="utf-8")
    page = Page()
    page.feed(text)
    return text, page


def test_report_orders_and_heads_tables_as_the_paper(report):
    _, page = report
    h2 = [text for tag, text in page.headings if tag == "h2"]
    assert h2 == [
        "Contents",
        "Table II. Title of table_II – ±",
        "Table IX. Title of table_IX – ±",
        "Table X. Title of table_X – ±",
        "Fig. 7. Reconstructions at 10 %",
        "Provenance",
    ]
    assert all(target in page.ids for target in page.links)  # the contents list resolves
    assert page.links == ["table_II", "table_IX", "table_X", "fig07", "provenance"]
    assert page.figcaptions == ["Paper Fig. 7: Reconstructions at 10 %; more text."]


def test_report_tables_show_ours_paper_delta_and_the_best_in_bold(report):
    text, page = report
    table = page.tables[0]
    header = [c["text"] for c in table[0]]
    assert header == ["Method", "PSNR (dB)", "HFEN", "SSIM", "NMSE", "s/image", "p (PSNR)"]
    assert [c["text"] for c in table[1]] == ["ours", "paper", "Δ"] * 3
    width = sum(c["colspan"] for c in table[0]) + 0  # rowspan columns + grouped ones
    assert width == 1 + 9 + 3
    body = table[2:]
    assert [r[0]["text"] for r in body] == [
        "radial-r0.25 (25.00 %)",
        "IFR-CS",
        "IFR-Net",
        "random2d-r0.25 (25.00 %)",
        "IFR-CS",
        "IFR-Net",
    ]
    for row in body:
        assert sum(c["colspan"] for c in row) == 13
    radial_cs, radial_net, random_cs, random_net = body[1], body[2], body[4], body[5]
    assert radial_cs[1:4] == [
        {"tag": "td", "colspan": 1, "text": "30.50 ± 0.50", "strong": False},
        {"tag": "td", "colspan": 1, "text": "30.00", "strong": False},
        {"tag": "td", "colspan": 1, "text": "+0.50", "strong": False},
    ]
    assert radial_net[1]["strong"] and random_cs[1]["strong"]  # best PSNR per mask
    assert not radial_cs[1]["strong"] and not random_net[1]["strong"]
    assert radial_net[11]["text"] == "0.25"  # s/image: the mean alone
    assert "psnr_mean" not in text and "ifrnet-s9-k2-l8-dct</td>" not in text
    assert "Generated caption of table_II." in text and "caption of table_II." in text


def test_report_is_self_contained_and_styled(report):
    text, page = report
    assert page.external == []  # nothing loaded from elsewhere
    assert "<style>" in text and "max-width" in text and page.tags.count("img") == 1
    assert "data:image/png;base64," in text


def test_report_shows_the_runs_provenance(report):
    text, page = report
    assert ("h3", "Versions") in page.headings and ("h3", "Config") in page.headings
    provenance = page.tables[-2]  # key-value table, then versions
    fields = {row[0]["text"]: row[1]["text"] for row in provenance}
    assert fields["job time"].startswith("1:01:00 (sum of 2 Snakemake benchmark records")
    assert "code version" in fields and len(fields["config sha256"]) == 64
    versions = {row[0]["text"] for row in page.tables[-1]}
    assert {"python", "numpy", "torch"} <= versions
    assert "device: cpu" in text  # the config, as YAML


PROBE = (
    "<script>document.title = 'overflow=' + (document.documentElement.scrollWidth > "
    "document.documentElement.clientWidth);</script></body>"
)


def scrolls_sideways(html: str, tmp_path) -> bool:
    """Whether Chromium (headless, 1400 px wide) shows ``html`` wider than its window. Skips
    where Chromium is missing, except in CI, where that fails (tests/tools.py)."""
    chromium = tools.require("chromium", "chromium-browser")
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", PROBE), encoding="utf-8")
    run = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1400,2000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r"<title>overflow=(true|false)</title>", run.stdout)
    assert found, f"Chromium printed no verdict: {run.stderr[-2000:]}"
    return found.group(1) == "true"


def test_report_needs_no_horizontal_scrolling_at_1400_px(report, tmp_path):
    """In a real browser: the page is no wider than 1400 px."""
    assert not scrolls_sideways(report[0], tmp_path)


def test_the_browser_check_sees_a_page_that_scrolls_sideways(report, tmp_path):
    """The check above can fail: the same report with one 2000 px wide element scrolls."""
    wide = report[0].replace("</body>", '<div style="width:2000px">wide</div></body>', 1)
    assert scrolls_sideways(wide, tmp_path)


def test_run_summary_names_the_results_and_the_time(tmp_path):
    results = tmp_path / "results"
    (results / "tables").mkdir(parents=True)
    (results / "tables" / "table_II.csv").write_text("x\n")
    (results / "report.html").write_text("<html></html>")
    text = run_summary(results, 3725.0)
    assert "finished in 1:02:05" in text
    assert f"report:  {results / 'report.html'}" in text
    assert f"{results / 'tables'}/  (1 tables" in text and "figures" not in text.split("logs")[0]
    assert "snakemake --report" not in text  # one report: results/report.html
