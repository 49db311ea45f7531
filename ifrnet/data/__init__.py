"""Data sources, the prepared-data file contract and the measurement model.

One adapter per source turns raw data into images; :mod:`ifrnet.data.prepared` writes and reads
the prepared HDF5 files (``data/prepared/{dataset}/{split}.h5``); :mod:`ifrnet.data.measure`
makes the k-space measurements every method sees.
"""
