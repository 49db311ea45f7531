"""reconstruct_split and evaluate_split with a method given as "module:Class" (bring your own)."""

import h5py
import numpy as np
import pandas as pd

from ifrnet.bench.data.sources import prepare_dataset
from ifrnet.bench.pipeline import evaluate_split, reconstruct_split
from ifrnet.methods.method import Method
from ifrnet.numerics.fourier import ifft2c
from ifrnet.numerics.masks import make_mask, save_mask


class Counting(Method):
    """Zero-filled reconstruction that records how it is called."""

    calls: list[str] = []

    def warm_up(self, kspace, mask):
        Counting.calls.append("warm_up")

    def reconstruct(self, kspace, mask):
        Counting.calls.append(f"reconstruct {len(kspace)}")
        return ifft2c(kspace).astype(np.complex64)


def test_user_method_is_warmed_up_once_then_timed_in_batches(tmp_path):
    spec = dict(
        source="embedded", kind="complex", size=32, n_train=0, n_val=0, n_test=3, noise_sigma=0.0
    )
    prepare_dataset("d", spec, seed=0, out_dir=tmp_path)
    save_mask(make_mask("radial", (32, 32), rate=1.0), tmp_path / "m.npz")
    Counting.calls = []
    recon = reconstruct_split(
        tmp_path / "test.h5",
        tmp_path / "m.npz",
        "mine",
        {"method": "tests.test_pipeline:Counting"},
        tmp_path / "r.h5",
        batch_size=2,
    )
    assert Counting.calls == ["warm_up", "reconstruct 2", "reconstruct 1"]
    with h5py.File(tmp_path / "r.h5") as f:
        assert f.attrs["model"] == "mine" and len(f.attrs["seconds"]) == 3
        np.testing.assert_array_equal(f["recon"][...], recon)
    table = evaluate_split(tmp_path / "r.h5", tmp_path / "test.h5", tmp_path / "m.csv")
    # a fully sampled, noise-free mask: zero-filled is exact up to float32 rounding
    assert (table["psnr"] > 100).all() and (table["ssim"] > 0.9999).all()
    assert list(pd.read_csv(tmp_path / "m.csv").columns[:2]) == ["image", "slice_index"]
