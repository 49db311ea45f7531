"""Methods: the interface every method follows, the registry of methods (with display labels;
the baselines live in the top-level ``baselines`` package and are named here as
``"module:Class"``, imported on use), IFR-Net, the networks' trainer and the converter of
published weights. Imports only :mod:`ifrnet.numerics` and :mod:`ifrnet.util`."""
