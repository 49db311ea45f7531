"""`ifrnet reconstruct` on users' files: a trained checkpoint, metrics, and clear failures."""

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import torch

from ifrnet.bench.cli import main
from ifrnet.methods.ifrnet import IFRNet
from ifrnet.methods.learned import load_network
from ifrnet.methods.training import TensorTriples, TrainSettings, save_checkpoint, train
from ifrnet.numerics.fourier import fft2c, ifft2c
from ifrnet.numerics.metrics import evaluate

SIZE = 32


def phantom(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[-1 : 1 : SIZE * 1j, -1 : 1 : SIZE * 1j]
    out = []
    for _ in range(n):
        r = rng.uniform(0.4, 0.8)
        img = (xx**2 + yy**2 < r**2) * rng.uniform(0.5, 1.0) + 0.3 * (
            np.abs(xx - rng.uniform(-0.3, 0.3)) < 0.1
        )
        out.append(img / img.max())
    return np.asarray(out, dtype=np.float32)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """A 2-stage IFR-Net trained briefly at 40 % random sampling, and its mask."""
    out = tmp_path_factory.mktemp("model")
    mask = np.random.default_rng(0).random((SIZE, SIZE)) < 0.4
    mask[SIZE // 2 - 3 : SIZE // 2 + 3, SIZE // 2 - 3 : SIZE // 2 + 3] = True
    images = torch.from_numpy(phantom(6, 1)).to(torch.complex64)
    m = torch.from_numpy(mask.astype(np.float32))
    data = TensorTriples(fft2c(images) * m, m, images)
    params = {"stages": 2, "blocks": 1}
    settings = TrainSettings.from_dict(
        {"epochs": 20, "lr": 3e-3, "batch_size": 2, "progress": False}
    )
    train(
        IFRNet(**params),
        data,
        data,
        settings,
        out,
        metadata={"method": "ifrnet", "params": params, "real": True},
    )
    np.save(out / "mask.npy", mask)
    return out, mask


def test_checkpoint_rebuilds_the_network(trained):
    out, _ = trained
    network, metadata = load_network(out / "model.pt")
    assert isinstance(network, IFRNet) and network.stages == 2 and metadata["method"] == "ifrnet"


@pytest.mark.parametrize(
    ("stored", "real"),
    [
        ({"real": True}, True),
        ({"real": False}, False),
        ({"complex_data": False}, True),  # the negated spelling that older files store
        ({"complex_data": True}, False),
        ({}, True),
    ],
)
def test_checkpoint_data_kind_in_either_spelling(tmp_path, capsys, stored, real):
    """A checkpoint's data kind, ``real`` or its negation ``complex_data``, rebuilds the
    network for that kind, and ``ifrnet reconstruct`` keeps (complex) or drops (real) the
    imaginary part accordingly."""
    torch.manual_seed(0)
    params = {"stages": 1, "blocks": 1}
    net = IFRNet(real=real, **params)
    metadata = {"method": "ifrnet", "params": params, **stored}
    save_checkpoint({"model": net.state_dict(), "metadata": metadata}, tmp_path / "model.pt")
    loaded, _ = load_network(tmp_path / "model.pt")
    assert loaded.real is real
    mask = np.random.default_rng(1).random((SIZE, SIZE)) < 0.5
    image = phantom(1, 3).astype(np.complex64) * np.exp(1j * np.linspace(0, 2, SIZE))
    np.save(tmp_path / "k.npy", fft2c(image))
    np.save(tmp_path / "mask.npy", mask)
    args = ["reconstruct", "--checkpoint", str(tmp_path / "model.pt"), "--input-kind", "kspace"]
    args += ["--input", str(tmp_path / "k.npy"), "--mask", str(tmp_path / "mask.npy")]
    assert main([*args, "--out", str(tmp_path / "rec.npy")]) == 0
    assert bool(np.load(tmp_path / "rec.npy", allow_pickle=False).imag.any()) is not real
    with torch.no_grad():
        k, m = torch.from_numpy(fft2c(image) * mask), torch.from_numpy(mask.astype(np.float32))
        torch.testing.assert_close(loaded(k, m), net(k, m))


@pytest.mark.parametrize("suffix", [".npy", ".mat", ".h5"])
def test_reconstructs_an_image_file_and_prints_metrics(trained, tmp_path, capsys, suffix):
    out, mask = trained
    image = phantom(1, 9)[0] * 7.0  # another scale: the command rescales to max 1 and back
    src = tmp_path / f"img{suffix}"
    if suffix == ".npy":
        np.save(src, image)
    elif suffix == ".mat":
        scipy.io.savemat(src, {"im": image})
    else:
        with h5py.File(src, "w") as f:
            f.create_dataset("image", data=image)
    dest = tmp_path / "rec.npy"
    code = main(
        [
            "reconstruct",
            "--checkpoint",
            str(out / "model.pt"),
            "--input",
            str(src),
            "--mask",
            str(out / "mask.npy"),
            "--out",
            str(dest),
        ]
    )
    assert code == 0
    rec = np.load(dest, allow_pickle=False)
    assert rec.shape == (1, SIZE, SIZE)
    zero_filled = ifft2c(fft2c(image) * mask).real
    ours, zf = evaluate(rec[0], image), evaluate(zero_filled, image)
    assert ours["psnr"] > zf["psnr"] + 1.0
    assert "PSNR" in capsys.readouterr().out


def test_kspace_input_with_reference(trained, tmp_path, capsys):
    out, mask = trained
    image = phantom(2, 5)
    np.save(tmp_path / "k.npy", fft2c(image.astype(np.complex64)))
    np.save(tmp_path / "ref.npy", image)
    code = main(
        [
            "reconstruct",
            "--checkpoint",
            str(out / "model.pt"),
            "--input",
            str(tmp_path / "k.npy"),
            "--input-kind",
            "kspace",
            "--mask",
            str(out / "mask.npy"),
            "--out",
            str(tmp_path / "rec.h5"),
            "--reference",
            str(tmp_path / "ref.npy"),
        ]
    )
    assert code == 0
    with h5py.File(tmp_path / "rec.h5") as f:
        assert f["recon"].shape == (2, SIZE, SIZE)
    assert capsys.readouterr().out.count("PSNR") == 2


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "in.npy").write_bytes(b"garbage"), "in.npy"),
        (lambda d: np.save(d / "in.npy", np.ones((SIZE, SIZE + 2))), "mask shape"),
        (lambda d: np.save(d / "in.npy", np.ones((2, 2, SIZE, SIZE))), "expected an array"),
        (lambda d: np.save(d / "in.npy", np.zeros((SIZE, SIZE))), "all-zero"),
    ],
)
def test_bad_inputs_fail_clearly_without_output(trained, tmp_path, capsys, make, message):
    out, _ = trained
    make(tmp_path)
    dest = tmp_path / "rec.npy"
    code = main(
        [
            "reconstruct",
            "--checkpoint",
            str(out / "model.pt"),
            "--input",
            str(tmp_path / "in.npy"),
            "--mask",
            str(out / "mask.npy"),
            "--out",
            str(dest),
        ]
    )
    assert code == 2
    assert message in capsys.readouterr().err
    assert not dest.exists() and not list(tmp_path.glob("*.tmp"))


def test_wrong_checkpoint_fails_clearly(tmp_path, capsys):
    torch.save({"model": {"nope": torch.zeros(1)}}, tmp_path / "bad.pt")
    np.save(tmp_path / "in.npy", np.ones((SIZE, SIZE)))
    np.save(tmp_path / "mask.npy", np.ones((SIZE, SIZE), bool))
    code = main(
        [
            "reconstruct",
            "--checkpoint",
            str(tmp_path / "bad.pt"),
            "--input",
            str(tmp_path / "in.npy"),
            "--mask",
            str(tmp_path / "mask.npy"),
            "--out",
            str(tmp_path / "rec.npy"),
        ]
    )
    assert code == 2 and "bad.pt" in capsys.readouterr().err


# --- any method on a user's file: a registered method, a configured model, tuned constants ---


def _mask(path: Path) -> np.ndarray:
    mask = np.random.default_rng(3).random((SIZE, SIZE)) < 0.35
    mask[SIZE // 2 - 2 : SIZE // 2 + 2, SIZE // 2 - 2 : SIZE // 2 + 2] = True
    np.save(path, mask)
    return mask


def test_any_registered_method_zero_filled_matches_numpy(tmp_path, capsys):
    image = phantom(2, 4).astype(np.float64) * 3.0
    mask = _mask(tmp_path / "mask.npy")
    np.save(tmp_path / "in.npy", image)
    code = main(
        [
            "reconstruct",
            "--method",
            "zero-filled",
            "--input",
            str(tmp_path / "in.npy"),
            "--mask",
            str(tmp_path / "mask.npy"),
            "--out",
            str(tmp_path / "rec.npy"),
        ]
    )
    assert code == 0
    # float64 NumPy reference: centred orthonormal FFT, masked, inverse, real part (real data)
    k = (
        np.fft.fftshift(
            np.fft.fft2(np.fft.ifftshift(image, axes=(1, 2)), norm="ortho"), axes=(1, 2)
        )
        * mask
    )
    expected = np.fft.fftshift(
        np.fft.ifft2(np.fft.ifftshift(k, axes=(1, 2)), norm="ortho"), axes=(1, 2)
    ).real
    np.testing.assert_allclose(
        np.load(tmp_path / "rec.npy", allow_pickle=False), expected, atol=1e-5
    )
    assert capsys.readouterr().out.count("PSNR") == 2


def test_iterative_method_with_constants_from_the_command_line(tmp_path, capsys):
    from baselines.ifrcs import IFRCS

    image = phantom(1, 6)[0] * 5.0
    mask = _mask(tmp_path / "mask.npy")
    np.save(tmp_path / "in.npy", image)
    code = main(
        [
            "reconstruct",
            "--method",
            "ifrcs",
            "--param",
            "lam=0.01",
            "--param",
            "max_iter=20",
            "--input",
            str(tmp_path / "in.npy"),
            "--mask",
            str(tmp_path / "mask.npy"),
            "--out",
            str(tmp_path / "rec.h5"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "ifrcs (ifrcs): lam = 0.01, max_iter = 20" in out and "PSNR" in out
    k = (fft2c(image[None] / 5.0) * mask).astype(np.complex64)
    expected = IFRCS(real=True, lam=0.01, max_iter=20)(k, mask) * 5.0
    with h5py.File(tmp_path / "rec.h5") as f:
        np.testing.assert_allclose(f["recon"][()], expected, atol=1e-5)
    zero_filled = ifft2c(fft2c(image) * mask).real
    assert evaluate(expected[0], image)["psnr"] > evaluate(zero_filled, image)["psnr"]


def test_configured_model_with_its_tuned_constants(tmp_path, capsys):
    import json

    from baselines.ifrcs import IFRCS
    from tests.workflow_helpers import ROOT

    image = phantom(1, 8)[0]
    mask = _mask(tmp_path / "mask.npy")
    np.save(tmp_path / "in.npy", image)
    (tmp_path / "t.json").write_text(
        json.dumps({"best": {"lam": 0.03, "max_iter": 10, "rho": 0.5}})
    )
    args = [
        "reconstruct",
        "--model",
        "ifrcs",
        "--config",
        str(ROOT / "config" / "smoke.yaml"),
        "--input",
        str(tmp_path / "in.npy"),
        "--mask",
        str(tmp_path / "mask.npy"),
        "--out",
        str(tmp_path / "rec.npy"),
    ]
    assert main([*args, "--tuned", str(tmp_path / "t.json"), "--param", "max_iter=5"]) == 0
    # smoke.yaml's params (tol) < the tuning result < the command line (max_iter)
    assert "lam = 0.03, max_iter = 5, rho = 0.5, tol = 0.0001" in capsys.readouterr().out
    expected = IFRCS(real=True, tol=1e-4, lam=0.03, max_iter=5, rho=0.5)(
        (fft2c(image[None]) * mask).astype(np.complex64), mask
    )
    np.testing.assert_allclose(
        np.load(tmp_path / "rec.npy", allow_pickle=False), expected, atol=1e-5
    )
    (tmp_path / "rec.npy").unlink()
    assert main(args) == 2  # tuned entry, neither tuning result nor constants
    assert "model 'ifrcs' is tuned: give its tuning result" in capsys.readouterr().err
    assert not (tmp_path / "rec.npy").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--method", "nope"], "unknown method 'nope'"),
        (["--model", "nope", "--config", "CONFIG"], "model 'nope' is not in the config"),
        (
            ["--model", "ifrnet-s2-k1-l8-dct", "--config", "CONFIG"],
            "model 'ifrnet' is a network: give its checkpoint",
        ),
        (["--method", "ifrcs", "--checkpoint", "x.pt"], "applies to learned models only"),
        (["--param", "lam=1"], "--param and --tuned go with --method or --model"),
        ([], "name what to run"),
        (["--method", "ifrcs", "--param", "nonsense=1"], "nonsense"),
    ],
)
def test_method_choice_errors_are_one_line_without_output(tmp_path, capsys, extra, message):
    from tests.workflow_helpers import ROOT

    _mask(tmp_path / "mask.npy")
    np.save(tmp_path / "in.npy", phantom(1, 1)[0])
    extra = [str(ROOT / "config" / "smoke.yaml") if a == "CONFIG" else a for a in extra]
    code = main(
        [
            "reconstruct",
            *extra,
            "--input",
            str(tmp_path / "in.npy"),
            "--mask",
            str(tmp_path / "mask.npy"),
            "--out",
            str(tmp_path / "rec.npy"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "rec.npy").exists()


def test_param_needs_name_and_value():
    with pytest.raises(SystemExit):
        main(
            [
                "reconstruct",
                "--method",
                "ifrcs",
                "--param",
                "lam",
                "--input",
                "a.npy",
                "--mask",
                "m.npy",
                "--out",
                "r.npy",
            ]
        )
