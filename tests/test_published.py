"""The authors' published networks: fake files with the real files' structure (MatConvNet v5
for IFR-Net-Code, v7.3/HDF5 for Deep-ADMM-Net) are converted, and the converted model is checked
against a float64 NumPy transcription of the authors' MATLAB layer functions on random inputs.

The transcriptions follow the MATLAB code with its own conventions — unnormalised ``fft2``,
masks un-centred with ``ifftshift``, ``vl_nnconv`` (zero-padded correlation), ``nnlinemex``
(piecewise-linear, slope 1 outside [−1, 1]), ``texture_map.m``, ``psf2otf`` and
``imfilter(…, 'conv', 'circular')`` — not the project's centred orthonormal operators.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io
import scipy.signal
import torch

from ifrnet.methods.learned import load_network
from ifrnet.methods.published import convert_published
from ifrnet.numerics.fourier import fft2c

RNG = np.random.default_rng(11)
GRID = np.linspace(-1.0, 1.0, 101)


def nnlinemex(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The PLF with values q on GRID, slope 1 outside [−1, 1]."""
    inside = np.interp(np.clip(x, -1, 1), GRID, q)
    return inside + (x - np.clip(x, -1, 1))


def correlate_same(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """MATLAB ``filter2(w, x, 'same')`` / ``vl_nnconv`` with pad (f−1)/2: zero-padded."""
    return scipy.signal.correlate2d(x, w, mode="same", boundary="fill")


def gaussian(size: int, sigma: float) -> np.ndarray:
    """``fspecial('gaussian', size, sigma)``."""
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma**2))
    return g / g.sum()


def texture_map(img: np.ndarray, c: float) -> np.ndarray:
    """``texture_map.m``: 1 − |(2σ12 + |c|)/(σ1² + σ2² + |c|)| with img2 = blurred img."""
    c = abs(c)
    img2 = correlate_same(img, gaussian(51, 50.0))
    window = np.ones((5, 5)) / 25
    mu1, mu2 = correlate_same(img, window), correlate_same(img2, window)
    s1 = correlate_same(img * img, window) - mu1**2
    s2 = correlate_same(img2 * img2, window) - mu2**2
    s12 = correlate_same(img * img2, window) - mu1 * mu2
    return 1 - np.abs((2 * s12 + c) / (s1 + s2 + c))


# ---------------------------------------------------------------------------------------------
# IFR-Net-Code (MatConvNet, v5)


def fake_ifrnet(
    stages: int = 2, blocks: int = 2, filters: int = 3, rng: np.random.Generator = RNG
) -> dict:
    """Random weights in the layout of ``net-radial30.mat`` (MATLAB shapes), drawn from
    ``rng`` (this module's generator unless another module passes its own)."""
    net = {
        "rho": rng.uniform(0.05, 0.5, stages + 1),
        "v": rng.uniform(-0.5, 0.5, stages),
        "blocks": [],
    }
    net["rho"][1] = -0.3  # trained ρ can be negative: no sign may be imposed
    for _ in range(stages * blocks):
        net["blocks"].append(
            {
                "w1": rng.normal(0, 0.5, (3, 3, 1, filters)),
                "b1": rng.normal(0, 0.1, (1, filters)),
                "q": np.sort(rng.uniform(-1.2, 1.2, (101, filters)), axis=0),
                "w2": rng.normal(0, 0.3, (3, 3, filters, 1)),
                "b2": rng.normal(0, 0.1),
                "mu": (rng.uniform(0.5, 1.0), rng.uniform(0.0, 0.3)),
            }
        )
    return net


def _cell(items: list) -> np.ndarray:
    cell = np.empty((1, len(items)), dtype=object)
    for i, item in enumerate(items):
        cell[0, i] = item
    return cell


def write_matconvnet(path, net: dict, stages: int, blocks: int) -> None:
    """The fake as MatConvNet stores it: ``net.layers`` / ``net.layerin`` cells of structs."""
    layers = [{"type": "X_org", "weights": _cell([net["rho"][0]])}]
    layerin = []
    for n in range(stages):
        layers.append({"type": "Z", "weights": _cell([])})
        layers.append({"type": "T", "weights": _cell([net["v"][n]])})
        layers.append(
            {
                "type": "X_final" if n == stages - 1 else "X_mid",
                "weights": _cell([net["rho"][n + 1]]),
            }
        )
        layerin.append({"type": "U_org", "weights": _cell([0.123])})  # ignored, as Uorg.m
        for k in range(blocks):
            b = net["blocks"][n * blocks + k]
            layerin += [
                {"type": "C1", "weights": _cell([b["w1"], b["b1"]]), "pad": 1},
                {"type": "H", "weights": _cell([b["q"]])},
                {"type": "C2", "weights": _cell([b["w2"], b["b2"]]), "pad": 1},
                {"type": "U_final" if k == blocks - 1 else "U", "weights": _cell(list(b["mu"]))},
            ]
    layers.append({"type": "loss", "weights": _cell([])})
    scipy.io.savemat(path, {"net": {"layers": _cell(layers), "layerin": _cell(layerin)}})


def ifrnet_reference(
    image: np.ndarray, mask: np.ndarray, net: dict, stages: int, blocks: int
) -> np.ndarray:
    """``vl_simplenn_LYL_test`` forward with xorg/xmid/xfinal, Uorg/Umid/Ufinal, Tmid."""
    m = np.fft.ifftshift(mask).astype(float)
    y = np.fft.fft2(image) * m

    def x_layer(xt: np.ndarray, rho: float) -> np.ndarray:
        denom = m + rho
        denom[denom == 0] = 1e-6
        return np.real(np.fft.ifft2((np.fft.fft2(rho * xt) + y) / denom))

    x = x_layer(np.zeros_like(image), net["rho"][0])  # xorg: ρ·0 + y
    for n in range(stages):
        u = x.copy()  # Uorg: weight forced to 1
        for k in range(blocks):
            b = net["blocks"][n * blocks + k]
            filters = b["w1"].shape[-1]
            c2 = np.full_like(x, float(b["b2"]))
            for i in range(filters):
                c1 = correlate_same(u, b["w1"][:, :, 0, i]) + b["b1"][0, i]
                c2 += correlate_same(nnlinemex(c1, b["q"][:, i]), b["w2"][:, :, i, 0])
            u = b["mu"][0] * u + b["mu"][1] * x - c2
        t = texture_map(x, net["v"][n])
        x = x_layer(u + t * (x - u), net["rho"][n + 1])
    return x


def test_ifrnet_matconvnet_conversion_matches_the_authors_layers(tmp_path):
    stages, blocks, filters = 2, 2, 3
    net = fake_ifrnet(stages, blocks, filters)
    write_matconvnet(tmp_path / "net.mat", net, stages, blocks)
    out = convert_published("ifrnet", tmp_path / "net.mat", tmp_path / "model.pt", "fake")
    network, meta = load_network(out)
    assert meta["params"] == {
        "stages": 2,
        "blocks": 2,
        "filters": 3,
        "filter_size": 3,
        "plf_points": 101,
        "init": "random",
    }
    assert meta["model"] == "fake" and len(meta["source_sha256"]) == 64
    image = RNG.random((24, 24))
    mask = RNG.random((24, 24)) < 0.4
    expected = ifrnet_reference(image, mask, net, stages, blocks)
    kspace = torch.from_numpy((fft2c(image.astype(np.complex64)) * mask)[None])
    with torch.no_grad():
        ours = network(kspace, torch.from_numpy(mask)).numpy()[0]
    assert np.abs(ours.imag).max() == 0
    np.testing.assert_allclose(ours.real, expected, atol=2e-5 * np.abs(expected).max())


# ---------------------------------------------------------------------------------------------
# Deep-ADMM-Net (v7.3 / HDF5)


def dctmtx(n: int) -> np.ndarray:
    """MATLAB ``dctmtx(n)``."""
    k, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    d = np.sqrt(2 / n) * np.cos(np.pi * (2 * j + 1) * k / (2 * n))
    d[0] /= np.sqrt(2)
    return d


def filters_from_gamma(gamma: np.ndarray) -> list[np.ndarray]:
    """``filter_base.m`` + ``reshape(B*gamma(:,i), 3, 3)`` (column-major)."""
    dct = np.kron(dctmtx(3), dctmtx(3))
    base = np.stack([dct[i] for i in range(1, 9)], axis=1)  # B(:, i-1) = DCT(i, :)
    return [np.reshape(base @ gamma[:, i], (3, 3), order="F") for i in range(gamma.shape[1])]


def psf2otf(h: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    padded = np.zeros(shape)
    padded[: h.shape[0], : h.shape[1]] = h
    return np.fft.fft2(np.roll(padded, (-(h.shape[0] // 2), -(h.shape[1] // 2)), axis=(0, 1)))


def imfilter_conv_circular(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``imfilter(x, h, 'same', 'circular', 'conv')`` for a 3×3 h (centre (1, 1))."""
    out = np.zeros_like(x)
    for a in range(3):
        for b in range(3):
            out += h[a, b] * np.roll(x, (a - 1, b - 1), axis=(0, 1))
    return out


def fake_admmnet(
    stages: int = 3, rng: np.random.Generator = RNG
) -> list[tuple[str, list[np.ndarray]]]:
    """Layers (type, MATLAB-shaped weights) as in ``net-stage*.mat``, drawn from ``rng``."""

    def gamma():
        return np.eye(8) + rng.normal(0, 0.2, (8, 8))

    def q():
        return GRID[:, None] + rng.normal(0, 0.05, (101, 8))

    layers = []
    for n in range(stages):
        first = n == 0
        layers.append(("X_org" if first else "X_mid", [gamma(), rng.uniform(0.05, 0.4, (8, 1))]))
        layers.append(("Convo", [gamma()]))
        layers.append(("Non_linorg" if first else "Non_linmid", [q()]))
        kind = "Multi_org" if first else "Multi_final" if n == stages - 1 else "Multi_mid"
        layers.append((kind, [rng.uniform(0.5, 2.0, (8, 1))]))
    layers.append(("X_mid", [gamma(), rng.uniform(0.05, 0.4, (8, 1))]))
    layers.append(("loss", []))
    return layers


def write_v73(path, layers: list[tuple[str, list[np.ndarray]]]) -> None:
    """The fake as MATLAB v7.3 stores it: object references into ``#refs#``, arrays
    transposed (column-major), strings as uint16 code points."""
    with h5py.File(path, "w") as f:
        refs = f.create_group("#refs#")
        layer_refs = []
        for i, (kind, weights) in enumerate(layers):
            g = refs.create_group(f"layer{i}")
            g.create_dataset("type", data=np.array([[ord(c)] for c in kind], dtype=np.uint16))
            w_refs = []
            for j, w in enumerate(weights):
                w_refs.append(refs.create_dataset(f"w{i}_{j}", data=np.asarray(w).T).ref)
            g.create_dataset("weights", data=np.array(w_refs, dtype=h5py.ref_dtype)[:, None])
            layer_refs.append(g.ref)
        net = f.create_group("net")
        net.create_dataset("layers", data=np.array(layer_refs, dtype=h5py.ref_dtype)[:, None])


def admmnet_reference(
    image: np.ndarray, mask: np.ndarray, layers: list[tuple[str, list[np.ndarray]]]
) -> np.ndarray:
    """``loss_with_gradient_single_before`` forward: xorg, convo, zorg/zmid, beta*, xmid."""
    m = np.fft.ifftshift(mask).astype(float)
    y = np.fft.fft2(image) * m
    x = z = beta = c = None
    for kind, weights in layers:
        if kind in ("X_org", "X_mid"):
            h = filters_from_gamma(weights[0])
            rho = weights[1].ravel()
            denom = m + sum(
                np.abs(psf2otf(np.sqrt(r) * hk, image.shape)) ** 2
                for r, hk in zip(rho, h, strict=True)
            )
            denom[denom == 0] = 1e-6
            pr = np.zeros_like(image)
            if kind == "X_mid":
                for i, hk in enumerate(h):
                    pr += rho[i] * imfilter_conv_circular(z[i] - beta[i], np.rot90(hk, 2))
            x = np.real(np.fft.ifft2((np.fft.fft2(pr) + y) / denom))
        elif kind == "Convo":
            c = [imfilter_conv_circular(x, d) for d in filters_from_gamma(weights[0])]
        elif kind.startswith("Non_lin"):
            q = weights[0]
            z = [
                nnlinemex(c[i] + (0 if kind == "Non_linorg" else beta[i]), q[:, i])
                for i in range(8)
            ]
        elif kind.startswith("Multi"):
            eta = weights[0].ravel()
            old = [0.0] * 8 if kind == "Multi_org" else beta
            beta = [old[i] + eta[i] * (c[i] - z[i]) for i in range(8)]
    return x


def test_admmnet_v73_conversion_matches_the_authors_layers(tmp_path):
    layers = fake_admmnet(stages=3)
    write_v73(tmp_path / "net-stage3.mat", layers)
    out = convert_published("admmnet", tmp_path / "net-stage3.mat", tmp_path / "m.pt", "fake")
    network, meta = load_network(out)
    assert meta["params"]["stages"] == 3 and meta["method"] == "admmnet"
    image = RNG.random((20, 20))
    mask = RNG.random((20, 20)) < 0.35
    expected = admmnet_reference(image, mask, layers)
    kspace = torch.from_numpy((fft2c(image.astype(np.complex64)) * mask)[None])
    with torch.no_grad():
        ours = network(kspace, torch.from_numpy(mask)).numpy()[0]
    np.testing.assert_allclose(ours.real, expected, atol=2e-5 * np.abs(expected).max())


def test_wrong_files_give_one_line_errors(tmp_path):
    layers = fake_admmnet(stages=2)
    write_v73(tmp_path / "admm.mat", layers)
    with pytest.raises(ValueError, match="not a IFR-Net-Code MatConvNet net"):
        convert_published("ifrnet", tmp_path / "admm.mat", tmp_path / "x.pt", "x")
    scipy.io.savemat(tmp_path / "other.mat", {"im": np.ones((4, 4))})
    with pytest.raises(ValueError, match="not a Deep-ADMM-Net net"):
        convert_published("admmnet", tmp_path / "other.mat", tmp_path / "x.pt", "x")
    with pytest.raises(ValueError, match="no converter for method 'unet'"):
        convert_published("unet", tmp_path / "other.mat", tmp_path / "x.pt", "x")
    assert not (tmp_path / "x.pt").exists()


# ---------------------------------------------------------------------------------------------
# In the workflow: a downloaded mask file and published weights, checked by their SHA-256


@pytest.mark.slow
def test_workflow_downloads_a_mask_file_and_published_weights(tmp_path):
    # Its own run: a config of downloaded masks and weights served by a local server.
    import yaml

    from ifrnet.numerics.masks import radial
    from tests.fixtures import serve, sha256
    from tests.workflow_helpers import ROOT, snakemake, workflow_copy

    served = tmp_path / "served"
    served.mkdir()
    scipy.io.savemat(served / "mask_20.mat", {"mask": radial((64, 64), 0.2).astype(float)})
    write_v73(served / "net-stage2.mat", fake_admmnet(stages=2))
    (tmp_path / "work").mkdir()
    work = workflow_copy(tmp_path / "work")
    smoke = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    url, server = serve(served)
    try:
        config = {
            "seed": 0,
            "device": "cpu",
            "batch_size": 2,
            "datasets": {"brain-real": smoke["datasets"]["brain-real"]},
            "masks": {
                "lab-r0.20": {"kind": "labradial", "rate": 0.2},
                "theirs": {
                    "kind": "file",
                    "path": "data/raw/masks/mask_20.mat",
                    "url": f"{url}/mask_20.mat",
                    "sha256": sha256(served / "mask_20.mat"),
                },
            },
            "models": {
                "zero-filled": {"method": "zero-filled"},
                "admm-pub": {
                    "method": "admmnet",
                    "label": "ADMM-Net (published)",
                    "weights": {
                        "path": "data/raw/weights/net-stage2.mat",
                        "url": f"{url}/net-stage2.mat",
                        "sha256": sha256(served / "net-stage2.mat"),
                    },
                },
            },
            "tables": {
                "table_P": {
                    "title": "published",
                    "dataset": "brain-real",
                    "masks": ["lab-r0.20", "theirs"],
                    "models": ["zero-filled", "admm-pub"],
                }
            },
            "figures": {
                "fig05": {
                    "kind": "masks",
                    "dataset": "brain-real",
                    "masks": ["lab-r0.20", "theirs"],
                }
            },
        }
        (work / "pub.yaml").write_text(yaml.safe_dump(config))
        result = snakemake(
            work,
            "results/tables/table_P.md",
            "results/figures/fig05.png",
            "--cores",
            "2",
            "--configfile",
            "pub.yaml",
        )
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr[-4000:]
    assert (work / "results/models/published/admm-pub/model.pt").is_file()
    table = (work / "results/tables/table_P.md").read_text()
    assert table.count("ADMM-Net (published)") >= 2  # one row per mask (by its label)
    assert "% determined" in table and "of samples mirrored" in table
    assert "published weights, not trained here" in table
    assert "ADMM-Net (published): net-stage2.mat" in table
