"""Numerics and the forward model: centred Fourier operators, the measurement, sampling masks
(one registry of kinds), metrics, network building blocks and their CPU kernels. Imports only
:mod:`ifrnet.util` (tests/test_layering.py)."""
