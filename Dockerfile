# The lmz runtime image: numpy + onnxruntime + typer/rich (no torch) and the shipped models.
#   docker build -t lmz . && docker run --rm -i lmz compress - < in > in.lmz
#   docker run --rm -i lmz -d < in.lmz > in        (every lmz-run command works; see README)
# CPU by default; on NVIDIA hosts build with --build-arg ORT=onnxruntime-gpu on a CUDA base image.
# lmz-export and lmz-train need torch and are not installed in this image (pip install 'lmz[export]').
FROM python:3.11-slim
ARG ORT=onnxruntime
WORKDIR /opt/lmz
COPY pyproject.toml README.md ./
COPY lmz lmz
# numba: the compiled predictor stack and deflate (pinned as in pyproject.toml: the bits must not move).
# The check below also fills numba's cache in site-packages (text, binary and deflate kernels), so
# that a container's first run does not compile them.
RUN pip install --no-cache-dir numpy "numba==0.68.1" typer rich "${ORT}" \
 && pip install --no-cache-dir --no-deps . \
 && rm -f /usr/local/bin/lmz-export /usr/local/bin/lmz-train \
 && rm -rf /opt/lmz \
 && python -c "import gzip, lmz; d = b'lmz image check ' * 64; assert lmz.decompress(lmz.compress(d)) == d; \
g = gzip.compress(d * 8 + bytes(range(256)) * 8); assert lmz.decompress(lmz.compress(g)) == g" \
 && lmz-run --help > /dev/null
WORKDIR /data
ENTRYPOINT ["lmz-run"]
CMD ["--help"]
