"""The paper's brain data as MATLAB files (docs/methods.md §7).

- SIAT_MRIdata200 (``yqx7150/SIAT_MRIdata200``): ``lsq{1..200}.mat``, key ``Img``, complex
  (270, 256); cropped as the repository's ``dataread_demo.m`` does — rotate by 90°
  (``imrotate(Img, 90)``), then drop 7 columns at each side — to (256, 256).
- IFR-Net test images (``yqx7150/IFR-Net-Code: Test_data/test_{1..5}.mat``): key ``im``, real
  (256, 256).

Images are scaled to max |x| = 1. Errors name the file and the fault.
"""

from __future__ import annotations

import os

import numpy as np

PathLike = str | os.PathLike[str]


def load_mat_array(path: PathLike, key: str) -> np.ndarray:
    """Variable ``key`` of a .mat file (v5 via SciPy, v7.3 via h5py, transposed to MATLAB's
    order); ValueError naming the file if it is unreadable or lacks the key."""
    import scipy.io

    try:
        variables = scipy.io.loadmat(path)
    except NotImplementedError:  # v7.3 = HDF5
        import h5py

        with h5py.File(path, "r") as f:
            if key not in f:
                raise ValueError(f"{path}: no variable {key!r} (has {sorted(f)})") from None
            data = f[key][()]
            if data.dtype.names and {"real", "imag"} <= set(data.dtype.names):
                data = data["real"] + 1j * data["imag"]
            return np.asarray(data).T
    except (ValueError, OSError, TypeError, IndexError) as err:  # SciPy: IndexError on junk
        raise ValueError(f"{path}: not a readable .mat file ({err})") from err
    if key not in variables:
        found = sorted(k for k in variables if not k.startswith("__"))
        raise ValueError(f"{path}: no variable {key!r} (has {found})")
    return np.asarray(variables[key])


def _check_image(path: PathLike, image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if image.shape != shape:
        raise ValueError(f"{path}: expected an image of shape {shape}, got {image.shape}")
    if not np.issubdtype(image.dtype, np.number):
        raise ValueError(f"{path}: expected numbers, got dtype {image.dtype}")
    if not np.isfinite(image).all():
        raise ValueError(f"{path}: image holds NaN or Inf")
    peak = float(np.abs(image).max())
    if peak == 0:
        raise ValueError(f"{path}: image is all zeros")
    return (image / peak).astype(np.complex64)


def read_siat_slice(path: PathLike) -> np.ndarray:
    """One SIAT slice as complex64 (256, 256), max |x| = 1."""
    image = _check_image(path, load_mat_array(path, "Img"), (270, 256))
    return np.ascontiguousarray(np.rot90(image)[:, 7:-7])


def read_test_image(path: PathLike) -> np.ndarray:
    """One IFR-Net test image (real) as complex64 (256, 256), max |x| = 1."""
    return _check_image(path, load_mat_array(path, "im"), (256, 256))
