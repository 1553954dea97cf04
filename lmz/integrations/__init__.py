"""Optional integrations (imported only by their users; the runtime never imports them):

- :mod:`lmz.integrations.numcodecs_codec`: the ``lmz`` codec for numcodecs / Zarr (registered with
  numcodecs through the ``numcodecs.codecs`` entry point when lmz is installed, and on import).
- :mod:`lmz.integrations.fsspec_compression`: ``fsspec.open(..., compression="lmz")``; call
  :func:`~lmz.integrations.fsspec_compression.register` (fsspec has no entry point for compressions).

``pip install lmz[zarr]`` installs zarr, numcodecs and fsspec.
"""
