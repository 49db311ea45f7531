"""The paper's claims (``config/claims.yaml``) and the comparisons that check them on a study.

A claim names, in the paper's terms, the rows of a published table (``config/published.yaml``)
it compares, or the stage outputs of a ``stages`` figure (paper Fig. 6); see the file's header.
:func:`load_claims` validates the file against the schema (``$defs.claims_file``) and against
the published tables: a claim naming a table the paper does not have, or a row no table holds,
is a :class:`~ifrnet.bench.config.ConfigError` naming the claim's key.

A study reaches the paper's rows through its tables: a config table with ``paper: II`` maps each
of its (mask, model) cells onto one published row by its ``paper_keys``
(:func:`ifrnet.bench.render.paper.cell_keys`). :func:`study_comparisons` turns each claim into
the comparisons it makes ("row A beats row B on PSNR") and each into the comparisons of the
study's cells that sit on those rows at the same mask; a comparison whose rows no cell of the
config sits on is kept as *not run*. :func:`claims_view` is what the claims job is shown of
the config (the tables with a paper table and the stages figures), :func:`claim_files` the
per-run files it is handed, in order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
import yaml

from ifrnet.bench.cells import entry_cells
from ifrnet.bench.config import ConfigError
from ifrnet.numerics.metrics import METRICS

Spec = Mapping[str, Any]


def _schema_errors(claims: Any, schema: Spec) -> list[str]:
    root = {"$ref": "#/$defs/claims_file", "$defs": schema["$defs"]}
    validator = jsonschema.Draft202012Validator(root)
    problems = []
    for error in validator.iter_errors(claims):
        where = ".".join(str(p) for p in error.absolute_path) or "<top level>"
        problems.append(f"{where}: {error.message}")
    return sorted(problems)


def _matches(row: Spec, fields: Spec) -> bool:
    """Whether a published row holds every field of ``fields`` (numbers to 1e-9)."""

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, int | float) and isinstance(b, int | float):
            return math.isclose(a, b, abs_tol=1e-9)
        return a == b

    return all(key in row and same(row[key], value) for key, value in fields.items())


def _published_problems(name: str, claim: Spec, published: Spec) -> list[str]:
    """What claim ``name`` names that the published tables lack."""
    if "table" not in claim:
        return []
    where = f"claims.{name}"
    table = claim["table"]
    if table not in published["tables"]:
        return [f"{where}.table: the paper has no published table {table!r}"]
    rows = published["tables"][table]["rows"]
    problems = []
    for key in ("target", "other"):
        if key in claim and not any(_matches(row, claim[key]) for row in rows):
            problems.append(f"{where}.{key}: no row of published Table {table} holds {claim[key]}")
    for field in [*claim.get("within", []), *([claim["along"]] if "along" in claim else [])]:
        if not all(field in row for row in rows):
            problems.append(f"{where}: field {field!r} is not in every row of Table {table}")
    for metric in claim["metrics"]:
        if not all(metric in row for row in rows):
            problems.append(f"{where}.metrics: Table {table} does not publish {metric!r}")
    if not problems and not paper_comparisons(claim, published):
        problems.append(f"{where}: its rows of Table {table} give nothing to compare")
    return problems


def load_claims(path: str, schema: Spec, published: Spec) -> dict[str, dict[str, Any]]:
    """The claims of ``path`` by name (ConfigError listing every fault, naming the file)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: not a claims file ({err})") from None
    problems = _schema_errors(data, schema)
    if not problems:
        for name, claim in data["claims"].items():
            problems += _published_problems(name, claim, published)
    if problems:
        raise ConfigError(f"{path}: invalid claims:\n  - " + "\n  - ".join(problems))
    return data["claims"]


@dataclass(frozen=True)
class PaperComparison:
    """One comparison a table claim makes: published rows ``better`` and ``worse`` (indices
    into the table's rows) on ``metric``, with the paper's own oriented difference."""

    better: int
    worse: int
    metric: str
    paper_diff: float


def _groups(rows: list[Spec], within: list[str]) -> list[list[int]]:
    """Row indices grouped by equal values of the ``within`` fields, in first-seen order."""
    groups: dict[tuple, list[int]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(tuple(row[f] for f in within), []).append(index)
    return list(groups.values())


def _pairs(claim: Spec, rows: list[Spec], group: list[int]) -> list[tuple[int, int]]:
    """(better, worse) row pairs the claim states within one group of rows."""
    compare = claim["compare"]
    if compare == "increasing":
        ordered = sorted(group, key=lambda i: rows[i][claim["along"]])
        return list(zip(ordered[1:], ordered[:-1], strict=True))
    targets = [i for i in group if _matches(rows[i], claim["target"])]
    if compare == "better":
        others = [i for i in group if _matches(rows[i], claim["other"])]
    else:  # best
        others = [i for i in group if i not in targets]
    return [(t, o) for t in targets for o in others if t != o]


def oriented(better: float, worse: float, metric: str) -> float:
    """better − worse where higher is better, worse − better where lower is (> 0: as claimed)."""
    return better - worse if METRICS[metric].higher_is_better else worse - better


def paper_comparisons(claim: Spec, published: Spec) -> list[PaperComparison]:
    """The comparisons a table claim makes of the paper's rows, with the paper's differences."""
    rows = published["tables"][claim["table"]]["rows"]
    found = []
    for group in _groups(rows, claim.get("within", [])):
        for better, worse in _pairs(claim, rows, group):
            for metric in claim["metrics"]:
                diff = oriented(float(rows[better][metric]), float(rows[worse][metric]), metric)
                found.append(PaperComparison(better, worse, metric, diff))
    return found


def row_label(row: Spec) -> str:
    """A published row named by its fields, e.g. ``IFR-Net, rate 0.1``."""
    fields = [f"{v}" if k == "method" else f"{k} {v}" for k, v in row.items()]
    return ", ".join(f for f, k in zip(fields, row, strict=True) if k not in METRICS)


# ---------------------------------------------------------------------------------------------
# A study's side of the claims


@dataclass(frozen=True)
class Side:
    """One side of a comparison as the study measures it: a reader's label and where its
    values are (``source``: per-image ``metrics`` files or ``stages`` files; the artefact, the
    cell, the stage for stages); ``cell`` None when the study has no such cell (the comparison
    is not run)."""

    label: str
    source: str = "metrics"
    artefact: str = ""
    cell: tuple[str, str, str] | None = None
    stage: int | None = None


@dataclass(frozen=True)
class Comparison:
    """One comparison of a claim on a study: ``better`` beats ``worse`` on ``metric`` in group
    ``group`` (our mask, or the figure), with the paper's difference and the stated effect
    (NaN where there is none)."""

    claim: str
    artefact: str
    group: str
    better: Side
    worse: Side
    metric: str
    paper_diff: float
    effect: float

    @property
    def runnable(self) -> bool:
        return self.better.cell is not None and self.worse.cell is not None

    @property
    def paired_seeds(self) -> bool:
        """Both sides from the same trainings (stage outputs of one network)."""
        return self.better.cell == self.worse.cell


def _row_cells(table_view: Spec, published: Spec) -> dict[int, list[tuple[str, str, str]]]:
    """Published row index → the table's cells that sit on that row (by its paper_keys)."""
    from ifrnet.bench.render.paper import cell_keys, paper_row

    entry = table_view["entry"]
    rows = published["tables"][entry["paper"]]["rows"]
    found: dict[int, list[tuple[str, str, str]]] = {}
    for cell in entry_cells(entry):
        keys = cell_keys(entry, cell[1], cell[2])
        row = paper_row(published, entry["paper"], keys) if keys is not None else None
        if row is not None:
            found.setdefault(rows.index(row), []).append(cell)
    return found


def _label(view: Spec, cell: tuple[str, str, str]) -> str:
    from ifrnet.bench.render.labels import unique_labels

    return unique_labels(view, view["entry"]["models"])[cell[2]]


def _table_comparisons(name: str, claim: Spec, published: Spec, view: Spec) -> list[Comparison]:
    rows = published["tables"][claim["table"]]["rows"]
    tables = {t: v for t, v in view["tables"].items() if v["entry"]["paper"] == claim["table"]}
    effect = claim.get("effect", {})
    found = []
    for paper in paper_comparisons(claim, published):
        ran = False
        for table, table_view in tables.items():
            cells = _row_cells(table_view, published)
            for better in cells.get(paper.better, []):
                for worse in [c for c in cells.get(paper.worse, []) if c[1] == better[1]]:
                    found.append(
                        Comparison(
                            name,
                            table,
                            better[1],
                            Side(_label(table_view, better), "metrics", table, better),
                            Side(_label(table_view, worse), "metrics", table, worse),
                            paper.metric,
                            paper.paper_diff,
                            float(effect.get(paper.metric, math.nan)),
                        )
                    )
                    ran = True
        if not ran:
            found.append(
                Comparison(
                    name,
                    f"Table {claim['table']}",
                    "",
                    Side(row_label(rows[paper.better])),
                    Side(row_label(rows[paper.worse])),
                    paper.metric,
                    paper.paper_diff,
                    float(effect.get(paper.metric, math.nan)),
                )
            )
    return found


def _stage_comparisons(name: str, claim: Spec, view: Spec) -> list[Comparison]:
    first, last = claim["stages"]
    effect = claim.get("effect", {})
    found = []
    for figure, figure_view in view["figures"].items():
        entry = figure_view["entry"]
        cell = (entry["dataset"], entry["mask"], entry["model"])
        stages = int(figure_view["models"][entry["model"]].get("params", {}).get("stages", last))
        for stage in range(first + 1, last + 1):
            for metric in claim["metrics"]:
                runnable = cell if stage <= stages else None
                found.append(
                    Comparison(
                        name,
                        figure,
                        entry["mask"],
                        Side(f"stage {stage}", "stages", figure, runnable, stage),
                        Side(f"stage {stage - 1}", "stages", figure, runnable, stage - 1),
                        metric,
                        math.nan,
                        float(effect.get(metric, math.nan)),
                    )
                )
    if not found:
        found = [
            Comparison(
                name,
                f"figure kind {claim['figure']}",
                "",
                Side(f"stage {stage}"),
                Side(f"stage {stage - 1}"),
                metric,
                math.nan,
                float(effect.get(metric, math.nan)),
            )
            for stage in range(first + 1, last + 1)
            for metric in claim["metrics"]
        ]
    return found


def study_comparisons(claims: Mapping[str, Spec], published: Spec, view: Spec) -> list[Comparison]:
    """Every comparison of every claim on the study ``view`` (:func:`claims_view`), claims in
    the file's order; comparisons the study cannot make are kept, not runnable."""
    found = []
    for name, claim in claims.items():
        if "table" in claim:
            found += _table_comparisons(name, claim, published, view)
        else:
            found += _stage_comparisons(name, claim, view)
    return found
