"""Numerics and the forward model: centred Fourier operators, the measurement operator, sampling
masks (one registry of kinds), metrics, network building blocks and their CPU kernels (one rule
for kernel or torch ops: :mod:`ifrnet.numerics.dispatch`). Imports only :mod:`ifrnet.util`
(tests/test_layering.py)."""
