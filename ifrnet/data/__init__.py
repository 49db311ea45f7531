"""Data sources and the measurement model.

:mod:`ifrnet.data.sources` holds the registry of sources (one :class:`DataSource` each) that
turn raw data into prepared splits (``data/prepared/{dataset}/{split}.h5``, whose contract is
in :mod:`ifrnet.formats`); :mod:`ifrnet.data.measure` makes the k-space measurements every
method sees (:func:`~ifrnet.data.measure.measured_split`).
"""
