"""The paper's claims as data (config/claims.yaml): validation, the comparisons a study makes of
them, the verdict rule (against scipy's t intervals) and the claims table on hand-made metrics."""

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from ifrnet.bench.artefacts import claim_files, claims_view
from ifrnet.bench.claims import load_claims, paper_comparisons, study_comparisons
from ifrnet.bench.config import ConfigError, load_config, load_schema
from ifrnet.bench.render.claims import build_claims
from ifrnet.bench.render.paper import load_published
from ifrnet.bench.verdict import (
    CONTRADICTED,
    HOLDS,
    NOT_RUN,
    WITHIN_NOISE,
    claim_verdict,
    difference,
)
from tests.workflow_helpers import ROOT

SCHEMA = load_schema(ROOT / "config" / "schema.yaml")
PUBLISHED_PATH = ROOT / "config" / "published.yaml"
PUBLISHED = load_published(PUBLISHED_PATH)
CLAIMS_PATH = ROOT / "config" / "claims.yaml"


# ---------------------------------------------------------------------------------------------
# The verdict rule


def test_one_seed_each_gives_the_paired_t_interval_over_images():
    rng = np.random.default_rng(0)
    worse = rng.normal(30, 2, 7)
    better = worse + rng.normal(0.5, 0.3, 7)
    measured = difference(better[None], worse[None], higher_is_better=True)
    reference = stats.ttest_rel(better, worse).confidence_interval(0.95)
    assert measured.diff == pytest.approx(np.mean(better - worse))
    assert (measured.low, measured.high) == pytest.approx((reference.low, reference.high))
    assert measured.dof == pytest.approx(6)


def test_paired_seeds_with_equal_image_differences_give_the_t_interval_over_seeds():
    base = np.linspace(28, 34, 6)
    shifts = np.array([0.31, 0.12, 0.45, 0.2])  # per training run, the same on every image
    better = base[None] + shifts[:, None]
    worse = np.repeat(base[None], 4, axis=0)
    measured = difference(better, worse, higher_is_better=True, paired_seeds=True)
    reference = stats.ttest_1samp(shifts, 0).confidence_interval(0.95)
    assert (measured.low, measured.high) == pytest.approx((reference.low, reference.high))


def test_independent_seeds_add_each_sides_seed_variance():
    rng = np.random.default_rng(1)
    better = 31 + rng.normal(0, 0.2, (3, 1)) + rng.normal(0, 0.05, (3, 5))
    worse = 30 + rng.normal(0, 0.2, (2, 1)) + rng.normal(0, 0.05, (2, 5))
    measured = difference(better, worse, higher_is_better=True)
    per_image = better.mean(0) - worse.mean(0)
    terms = [
        (np.var(per_image, ddof=1) / 5, 4),
        (np.var(better.mean(1), ddof=1) / 3, 2),
        (np.var(worse.mean(1), ddof=1) / 2, 1),
    ]
    se = math.sqrt(sum(v for v, _ in terms))
    dof = se**4 / sum(v**2 / d for v, d in terms)
    half = stats.t.ppf(0.975, dof) * se
    assert measured.se == pytest.approx(se) and measured.dof == pytest.approx(dof)
    assert (measured.low, measured.high) == pytest.approx(
        (per_image.mean() - half, per_image.mean() + half)
    )
    assert (measured.seeds_better, measured.seeds_worse, measured.images) == (3, 2, 5)


@pytest.mark.parametrize(
    ("shift", "higher", "verdict"),
    [
        (1.0, True, HOLDS),
        (-1.0, True, CONTRADICTED),
        (0.0, True, WITHIN_NOISE),
        (-1.0, False, HOLDS),  # lower is better (HFEN): a lower value is "better"
    ],
)
def test_verdicts(shift, higher, verdict):
    rng = np.random.default_rng(2)
    worse = rng.normal(30, 1, (1, 8))
    better = worse + shift + rng.normal(0, 0.1, (1, 8))
    assert difference(better, worse, higher_is_better=higher).verdict == verdict


def test_one_image_and_one_seed_is_no_evidence():
    measured = difference(np.array([[31.0]]), np.array([[30.0]]), higher_is_better=True)
    assert measured.verdict == WITHIN_NOISE and math.isinf(measured.high)


def test_a_claim_holds_only_if_every_comparison_holds():
    assert claim_verdict([HOLDS, HOLDS, NOT_RUN]) == HOLDS
    assert claim_verdict([HOLDS, WITHIN_NOISE]) == WITHIN_NOISE
    assert claim_verdict([HOLDS, CONTRADICTED, WITHIN_NOISE]) == CONTRADICTED
    assert claim_verdict([NOT_RUN, NOT_RUN]) == NOT_RUN


# ---------------------------------------------------------------------------------------------
# The claims file


def test_the_claims_file_validates_and_covers_the_papers_findings():
    claims = load_claims(str(CLAIMS_PATH), SCHEMA, PUBLISHED)
    tables = {c["table"] for c in claims.values() if "table" in c}
    assert {"II", "III", "IV", "V", "VI", "VII", "IX", "X"} <= tables
    assert any(c.get("figure") == "stages" for c in claims.values())
    for claim in claims.values():
        assert claim["quote"] and claim["section"] and claim["metrics"]


def test_paper_differences_come_from_the_published_table():
    claims = load_claims(str(CLAIMS_PATH), SCHEMA, PUBLISHED)
    found = paper_comparisons(claims["X-separate-far-above-shared-weights"], PUBLISHED)
    psnr = next(c for c in found if c.metric == "psnr")
    assert psnr.paper_diff == pytest.approx(39.2586 - 33.2147)
    hfen = next(c for c in found if c.metric == "hfen")
    assert hfen.paper_diff == pytest.approx(0.6704 - 0.1458)  # lower is better: worse − better
    steps = paper_comparisons(claims["II-psnr-ssim-rise-with-blocks"], PUBLISHED)
    assert [(c.metric, round(c.paper_diff, 4)) for c in steps] == [
        ("psnr", 0.0695),
        ("ssim", 0.0006),
        ("psnr", 0.0581),
        ("ssim", 0.0007),
    ]
    best = paper_comparisons(claims["IV-ifrnet-best-at-every-rate"], PUBLISHED)
    assert len(best) == 4 * 2 * 3  # 4 rates × 2 competitors × 3 metrics


def _claims_file(tmp_path: Path, claims: dict) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"claims": claims}))
    return path


BASE = {"statement": "s", "section": "x", "quote": "q", "metrics": ["psnr"]}


@pytest.mark.parametrize(
    ("claim", "message"),
    [
        ({"table": "XI", "compare": "best", "target": {"method": "IFR-Net"}}, "table"),
        (
            {"table": "IV", "compare": "best", "target": {"method": "IFR-Net-9000"}},
            "claims.bad.target: no row of published Table IV holds",
        ),
        (
            {"table": "IX", "compare": "better", "target": {"init": "dct"}, "other": {"x": 1}},
            "claims.bad.other: no row of published Table IX",
        ),
        ({"table": "IV", "compare": "better", "target": {"method": "IFR-Net"}}, "other"),
        ({"table": "II", "compare": "increasing", "along": "depth"}, "field 'depth'"),
        ({"figure": "stages", "compare": "best", "target": {"stage": 9}}, "claims.bad"),
    ],
)
def test_a_claim_naming_what_the_paper_lacks_stops_at_validation(tmp_path, claim, message):
    path = _claims_file(tmp_path, {"bad": {**BASE, **claim}})
    with pytest.raises(ConfigError, match="invalid claims") as err:
        load_claims(str(path), SCHEMA, PUBLISHED)
    assert message in str(err.value) and str(path) in str(err.value)


# ---------------------------------------------------------------------------------------------
# A study's comparisons and the claims table on hand-made metrics


def _study() -> dict:
    """The smoke config with Tables IX and X only (IX's random model trained with 2 seeds)."""
    config = load_config(ROOT / "config" / "smoke.yaml", ROOT / "config" / "schema.yaml")
    config = copy.deepcopy(config)
    config["tables"] = {k: config["tables"][k] for k in ("table_IX", "table_X")}
    config["figures"] = {"fig06": config["figures"]["fig06"]}
    return config


def test_a_claim_whose_cells_the_config_lacks_is_not_run():
    claims = load_claims(str(CLAIMS_PATH), SCHEMA, PUBLISHED)
    found = study_comparisons(claims, PUBLISHED, claims_view(_study()))
    by_claim = {}
    for comparison in found:
        by_claim.setdefault(comparison.claim, []).append(comparison.runnable)
    assert all(by_claim["IX-dct-above-random-init"])
    assert not any(by_claim["IV-ifrnet-best-at-every-rate"])  # no Table IV in this study
    assert not any(by_claim["II-psnr-ssim-rise-with-blocks"])
    # the smoke Fig. 6 network has 3 stages: stages 2 and 3 are compared, 4..9 are not run
    stages = [c for c in found if c.claim == "fig6-metrics-rise-with-stages"]
    assert [c.better.stage for c in stages if c.runnable] == [2, 2, 2, 3, 3, 3]
    assert all(c.paired_seeds for c in stages if c.runnable)


def _write(path: Path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def _per_image(psnr: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {"psnr": psnr, "ssim": psnr / 40, "hfen": 1 / psnr, "nmse": 0.01, "seconds": 0.1 + 0 * psnr}
    )


def test_the_claims_table_on_hand_made_metrics(tmp_path, monkeypatch):
    """IX: DCT clearly better (holds); X: the shared network clearly better (contradicted);
    Fig. 6: stage 3 no better than stage 2 (within noise); Table IV: not in the study."""
    monkeypatch.chdir(tmp_path)
    config = _study()
    view = claims_view(config)
    rng = np.random.default_rng(5)
    base = rng.normal(30, 1.5, 2)  # the smoke study's 2 test images
    level = {
        "ifrnet-s2-k1-l8-dct": 32.0,
        "ifrnet-s2-k1-l8-random": 30.0,
        "ifrnet-s2-k1-l8-dct-shared": 33.0,
    }
    files = []
    for (kind, _, cell, run), path in claim_files(view):
        if kind == "metrics":
            model = cell[2]
            offset = level[model] + (0.01 if run.endswith("seed-1") else 0.0)
            if model == "ifrnet-s2-k1-l8-dct" and "table_X" in path:
                offset = level[model]
            _write(Path(path), _per_image(base - base.mean() + offset))
        else:  # stages: stage 3 equals stage 2 up to noise that changes sign
            rows = []
            for image in range(2):
                for stage in (1, 2, 3):
                    psnr = 25 + 2 * min(stage, 2) + (0.3 if (stage == 3) == bool(image) else 0)
                    rows.append({"image": image, "stage": stage, "psnr": psnr})
            frame = pd.DataFrame(rows)
            frame["ssim"], frame["hfen"] = frame["psnr"] / 40, 1 / frame["psnr"]
            _write(Path(path), frame)
        files.append(path)
    written = build_claims(
        view,
        tmp_path / "claims.csv",
        claims=CLAIMS_PATH,
        published=PUBLISHED_PATH,
        inputs=files,
    )
    assert [p.name for p in written] == ["claims.csv", "claims.md", "claims.prov.json"]
    table = pd.read_csv(tmp_path / "claims.csv")
    verdict = table.groupby("claim")["claim_verdict"].first()
    assert verdict["IX-dct-above-random-init"] == HOLDS
    assert verdict["X-separate-far-above-shared-weights"] == CONTRADICTED
    assert verdict["fig6-metrics-rise-with-stages"] == WITHIN_NOISE
    assert verdict["IV-ifrnet-best-at-every-rate"] == NOT_RUN
    ix = table[(table["claim"] == "IX-dct-above-random-init") & (table["metric"] == "psnr")]
    assert ix["diff"].item() == pytest.approx(32.0 - 30.005, abs=1e-4)
    assert ix["seeds_worse"].item() == 2 and ix["paper_diff"].item() == pytest.approx(0.1607)
    md = (tmp_path / "claims.md").read_text()
    assert md.splitlines()[2].startswith("Scale: ") and "not comparable" in md
    assert "**contradicted**" in md and "**not run**" in md and "“" in md
