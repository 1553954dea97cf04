# Slim deployment image: the lmz runtime (numpy + onnxruntime + typer/rich, no torch) and the
# shipped models.  CPU by default; for NVIDIA hosts build with --build-arg ORT=onnxruntime-gpu
# on a CUDA base image.
#   docker build -t lmz . && docker run --rm -i lmz compress - < in > in.lmz
FROM python:3.11-slim
ARG ORT=onnxruntime
WORKDIR /opt/lmz
COPY pyproject.toml README.md ./
COPY runtime runtime
COPY export export
COPY models models
RUN pip install --no-cache-dir numpy typer rich "${ORT}" \
 && pip install --no-cache-dir --no-deps . \
 && rm -rf /opt/lmz
WORKDIR /data
ENTRYPOINT ["lmz-run"]
CMD ["--help"]
