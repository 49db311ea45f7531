"""ifrnet-bench: IFR-Net and the tooling to benchmark compressed-sensing MRI reconstruction."""

__version__ = "0.1.0"
