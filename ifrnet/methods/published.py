"""Convert the authors' published MATLAB networks into ``model.pt`` checkpoints.

Two formats, told apart by the model's ``method``:

``ifrnet`` — IFR-Net-Code's MatConvNet net (``Train_output/net/net-radial30.mat``, MATLAB v5):
``net.layers`` = X_org, then per stage Z, T and X_mid (the last X is X_final), and
``net.layerin`` = per stage U_org followed by K blocks (C1, H, C2, U — the last U is U_final).
Mapping (checked against a NumPy transcription of their layer functions, ``xorg.m``, ``xmid.m``,
``Umid.m``, ``Tmid.m``/``texture_map.m``, ``vl_nnconv``, ``nnlinemex``):

- C1 weights (f, f, 1, L) and bias (L) → ``w1[i, 0] = W[:, :, 0, i]``, ``b1`` (MatConvNet's
  convolution is a correlation, as torch's: no flip);
- C2 weights (f, f, L, 1) and bias → ``w2[0, i] = W[:, :, i, 0]``, ``b2``;
- H (P, L) → the PLF values ``q`` (L, P) on the same P-point grid on [−1, 1];
- U and U_final (μ1, μ2) → ``eta1``, ``eta2``; U_org's stored weight is ignored (``Uorg.m``
  sets it to 1);
- X_org, X_mid, X_final → ``rho`` (N + 1) and T → ``v`` (N), copied as they are: trained ρ and V
  can be negative (V enters as |V|), so no sign is imposed.

``admmnet`` — Deep-ADMM-Net's nets (``net/network_20/net-stage*.mat``, MATLAB v7.3, HDF5):
``net.layers`` = X_org, Convo, Non_linorg, Multi_org, then (X_mid, Convo, Non_linmid,
Multi_mid) …, Multi_final, X_mid, loss. Filters are coefficients γ (8 × 8) on the 8 non-DC 3×3
DCT bases ``B`` of ``filter_base.m`` (``B[:, m] = kron(dctmtx(3), dctmtx(3))[m + 1, :]``), the
filter l being ``reshape(B γ[:, l], 3, 3)`` (column-major); ``xmid.m``/``convo.m`` convolve
with it circularly (``psf2otf``, ``imfilter(…, 'conv', 'circular')``), as
:func:`baselines.admmnet.filter_response` does. X layers carry (γ, ρ), Convo γ, Non_lin the PLF
values (P × L in MATLAB), Multi η. The network has one stage per Convo layer (the file named
``net-stage15`` has 17).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from ifrnet.methods.training import save_checkpoint
from ifrnet.util.io import file_sha256
from ifrnet.util.userio import check_declared

PathLike = str | os.PathLike[str]
FORMATS = {
    "ifrnet": "IFR-Net-Code MatConvNet net (.mat v5)",
    "admmnet": "Deep-ADMM-Net net (.mat v7.3)",
}


def _tensor(array: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array, dtype=np.float64), dtype=torch.float32)


def _fault(path: PathLike, what: str) -> ValueError:
    return ValueError(f"{path}: not a {what}")


# ---------------------------------------------------------------------------------------------
# IFR-Net-Code (MatConvNet, v5)


def _mat_layers(path: PathLike) -> tuple[list[Any], list[Any]]:
    import scipy.io

    try:
        content = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
        net = content["net"]
        return list(np.atleast_1d(net.layers)), list(np.atleast_1d(net.layerin))
    except (KeyError, AttributeError, ValueError, TypeError, OSError, NotImplementedError) as err:
        raise _fault(path, f"{FORMATS['ifrnet']} ({err})") from err


def _weights(layer: Any) -> list[np.ndarray]:
    w = layer.weights
    if isinstance(w, np.ndarray) and w.dtype == object:
        return [np.asarray(v, dtype=np.float64) for v in w.ravel()]
    return [np.asarray(w, dtype=np.float64)]


def ifrnet_from_matconvnet(path: PathLike) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(constructor params, state dict) of :class:`ifrnet.methods.ifrnet.IFRNet` for the
    authors' MatConvNet net at ``path`` (module docstring for the mapping)."""
    layers, layerin = _mat_layers(path)
    types = [str(layer.type) for layer in layers]
    stages = types.count("Z")
    if stages == 0 or types[0] != "X_org" or types.count("T") != stages:
        raise _fault(path, f"{FORMATS['ifrnet']} (layers {types})")
    per_stage, rest = divmod(len(layerin), stages)
    blocks, rest2 = divmod(per_stage - 1, 4)
    if rest or rest2 or blocks < 1:
        raise _fault(path, f"{FORMATS['ifrnet']} ({len(layerin)} inner layers for {stages} stages)")
    rho = [float(_weights(layer)[0]) for layer in layers if str(layer.type).startswith("X_")]
    v = [float(_weights(layer)[0]) for layer in layers if str(layer.type) == "T"]
    state: dict[str, torch.Tensor] = {"rho": _tensor(rho)}
    filters = size = points = 0
    for n in range(stages):
        base = n * per_stage
        if str(layerin[base].type) != "U_org":
            raise _fault(path, f"{FORMATS['ifrnet']} (stage {n + 1} does not start with U_org)")
        for k in range(blocks):
            c1, h, c2, u = layerin[base + 1 + 4 * k : base + 5 + 4 * k]
            expected = ("C1", "H", "C2", "U_final" if k == blocks - 1 else "U")
            if tuple(str(layer.type) for layer in (c1, h, c2, u)) != expected:
                raise _fault(path, f"{FORMATS['ifrnet']} (stage {n + 1}, block {k + 1})")
            w1, b1 = _weights(c1)
            size = w1.shape[0]
            w1 = w1.reshape(size, size, 1, -1)
            filters = w1.shape[-1]
            w2, b2 = _weights(c2)
            w2 = w2.reshape(size, size, filters, 1)
            q = _weights(h)[0].reshape(-1, filters)
            points = q.shape[0]
            mu1, mu2 = (float(x) for x in _weights(u))
            prefix = f"z.{n}.blocks.{k}."
            state[prefix + "w1"] = _tensor(w1[:, :, 0, :].transpose(2, 0, 1)[:, None])
            state[prefix + "b1"] = _tensor(np.ravel(b1))
            state[prefix + "plf.q"] = _tensor(q.T)
            state[prefix + "w2"] = _tensor(w2[:, :, :, 0].transpose(2, 0, 1)[None])
            state[prefix + "b2"] = _tensor(np.ravel(b2))
            state[prefix + "eta1"] = _tensor(mu1)
            state[prefix + "eta2"] = _tensor(mu2)
        state[f"r.{n}.v"] = _tensor(v[n])
    if len(rho) != stages + 1:
        raise _fault(path, f"{FORMATS['ifrnet']} ({len(rho)} X layers for {stages} stages)")
    params = {
        "stages": stages,
        "blocks": blocks,
        "filters": filters,
        "filter_size": size,
        "plf_points": points,
        "init": "random" if filters != size * size - 1 else "dct",
    }
    return params, state


# ---------------------------------------------------------------------------------------------
# Deep-ADMM-Net (v7.3 / HDF5)


def _h5_layers(path: PathLike) -> list[tuple[str, list[np.ndarray]]]:
    """[(type, [weights as MATLAB arrays])] of ``net.layers`` in a v7.3 file."""
    try:
        with h5py.File(path, "r") as f:
            out = []
            for ref in f["net"]["layers"][()].ravel():
                group = f[ref]
                kind = "".join(chr(c) for c in np.asarray(group["type"][()]).ravel())
                weights = []
                if "weights" in group:
                    for wref in group["weights"][()].ravel():
                        check_declared(path, f[wref].shape or (), np.float64)
                        weights.append(np.asarray(f[wref][()], dtype=np.float64).T)
                out.append((kind, weights))
            return out
    except (KeyError, OSError, ValueError, TypeError) as err:
        raise _fault(path, f"{FORMATS['admmnet']} ({err})") from err


def admm_filter_base(size: int = 3) -> np.ndarray:
    """``filter_base.m``: (size², size² − 1), column m = row m + 1 of kron(dctmtx, dctmtx)."""
    from ifrnet.numerics.layers import dct_matrix

    d = dct_matrix(size)
    return np.kron(d, d)[1:].T


def admm_filters(gamma: np.ndarray) -> np.ndarray:
    """Filters (L, 3, 3) from DCT coefficients γ (8, L): filter l = reshape(B γ[:, l], 3, 3)
    column-major, as ``xorg.m``/``convo.m``."""
    base = admm_filter_base(3)
    return np.stack([(base @ gamma[:, i]).reshape(3, 3, order="F") for i in range(gamma.shape[1])])


def admmnet_from_matlab(path: PathLike) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(constructor params, state dict) of :class:`baselines.admmnet.ADMMNet` for a
    Deep-ADMM-Net ``net-stage*.mat`` (module docstring for the mapping)."""
    layers = _h5_layers(path)
    kinds = [k for k, _ in layers if k != "loss"]
    stages = kinds.count("Convo")
    pattern = (
        ["X_org", "Convo", "Non_linorg", "Multi_org"]
        + ["X_mid", "Convo", "Non_linmid", "Multi_mid"] * (stages - 1)
        + ["X_mid"]
    )
    if stages > 1:
        pattern[-2] = "Multi_final"
    if stages == 0 or kinds != pattern:
        raise _fault(path, f"{FORMATS['admmnet']} (layers {kinds})")
    weights = [w for k, w in layers if k != "loss"]
    x_layers = [weights[4 * n] for n in range(stages + 1)]
    state: dict[str, torch.Tensor] = {}
    for n, (gamma, _) in enumerate(x_layers):
        state[f"x_filters.{n}"] = _tensor(admm_filters(gamma))
    state["rho"] = _tensor(np.stack([np.ravel(rho) for _, rho in x_layers]))
    for n in range(stages):
        state[f"c_filters.{n}"] = _tensor(admm_filters(weights[4 * n + 1][0]))
        state[f"plf.{n}.q"] = _tensor(weights[4 * n + 2][0].T)
    state["eta"] = _tensor(np.stack([np.ravel(weights[4 * n + 3][0]) for n in range(stages)]))
    filters = state["eta"].shape[1]
    params = {
        "stages": stages,
        "filters": filters,
        "filter_size": 3,
        "plf_points": int(state["plf.0.q"].shape[1]),
    }
    return params, state


CONVERTERS = {"ifrnet": ifrnet_from_matconvnet, "admmnet": admmnet_from_matlab}


def convert_published(method: str, source: PathLike, out: PathLike, model_name: str) -> Path:
    """Convert the authors' file ``source`` for ``method`` into ``out`` (``model.pt``: weights
    and metadata, loadable by :func:`ifrnet.methods.learned.load_network`); return ``out``."""
    from ifrnet.methods.learned import build_network
    from ifrnet.methods.training import check_weights

    if method not in CONVERTERS:
        raise ValueError(f"no converter for method {method!r}; known: {sorted(CONVERTERS)}")
    if not Path(source).is_file():
        raise FileNotFoundError(f"{source}: weights file does not exist")
    try:
        params, state = CONVERTERS[method](source)
        broken = [name for name, tensor in state.items() if not torch.isfinite(tensor).all()]
        if broken:
            raise ValueError(f"weights {broken[0]} hold NaN or Inf")
        network = build_network(method, params, real=True)
        check_weights(network, state, source)
        network.load_state_dict(state)
    except Exception as err:  # the authors' files are parsed by scipy/h5py: any fault, one line
        if str(source) in str(err):
            raise
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise _fault(source, f"{FORMATS[method]} ({first})") from err
    metadata = {
        "method": method,
        "params": params,
        "real": True,
        "dataset": "published",
        "mask": "",
        "model": model_name,
        "source": Path(source).name,
        "source_sha256": file_sha256(source),
    }
    save_checkpoint({"model": network.state_dict(), "metadata": metadata}, out)
    return Path(out)
