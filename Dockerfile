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
RUN pip install --no-cache-dir numpy typer rich "${ORT}" \
 && pip install --no-cache-dir --no-deps . \
 && rm -f /usr/local/bin/lmz-export /usr/local/bin/lmz-train \
 && rm -rf /opt/lmz \
 && python -c "import lmz; d = b'lmz image check ' * 64; assert lmz.decompress(lmz.compress(d)) == d" \
 && lmz-run --help > /dev/null
WORKDIR /data
ENTRYPOINT ["lmz-run"]
CMD ["--help"]
