"""Data sources and the measurement model.

:mod:`ifrnet.bench.data.sources` holds the registry of sources (one :class:`DataSource` each) that
turn raw data into prepared splits (``data/prepared/{dataset}/{split}.h5``, whose contract is
in :mod:`ifrnet.util.formats`); :mod:`ifrnet.numerics.measure` makes the k-space measurements every
method sees (:func:`~ifrnet.numerics.measure.measured_split`).
"""
