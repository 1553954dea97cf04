"""Optional integrations (imported only by their users; the runtime never imports them):

- :mod:`lmz.integrations.zarr_codec`: the ``lmz`` codec for Zarr format 3 arrays (zarr-python 3;
  registered through the ``zarr.codecs`` entry point when lmz is installed, and on import).
- :mod:`lmz.integrations.numcodecs_codec`: the ``lmz`` codec for numcodecs / Zarr format 2 (registered
  with numcodecs through the ``numcodecs.codecs`` entry point when lmz is installed, and on import).
- :mod:`lmz.integrations.fsspec_compression`: ``fsspec.open(..., compression="lmz")``; call
  :func:`~lmz.integrations.fsspec_compression.register` (fsspec has no entry point for compressions).

``pip install lmz[zarr]`` installs zarr (3.x), numcodecs and fsspec. Ray Data: :mod:`lmz.ray`.
"""
