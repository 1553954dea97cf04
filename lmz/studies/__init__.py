"""The paper's studies (Delétang et al. 2023), outside the runtime: ``bench`` (Table 1, same-run
baselines, in-context curves), ``generate`` (compressors as generative models, image completion),
``scaling`` (model size vs rate) and ``tokenizer`` (BPE as a pre-compressor). ``lmz-run bench`` and
``lmz-run generate`` import them only when they run.
"""
CHUNK = 2048  # the paper's independent chunks (bytes)
PATCH_ROWS, PATCH_COLS = 32, 64  # the paper's image patches: 32 rows x 64 columns, row-major bytes
PATCH_BYTES = PATCH_ROWS * PATCH_COLS  # = CHUNK
