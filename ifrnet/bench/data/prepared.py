"""The prepared-data file contract, ``data/prepared/{dataset}/{split}.h5``: kept in
:mod:`ifrnet.util.formats` with the project's other file formats; its reader and writer are
re-exported here for the modules that import them from this place."""

from ifrnet.util.formats import REQUIRED_ATTRS, read_split, write_split

__all__ = ["REQUIRED_ATTRS", "read_split", "write_split"]
