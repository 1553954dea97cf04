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
# The check below also fills numba's cache in site-packages (text, binary, raster, deflate and PNG
# kernels), so that a container's first run does not compile them (a first JPEG compiles jpeg.py's).
RUN pip install --no-cache-dir numpy "numba==0.68.1" "typer>=0.12,<0.25" rich "${ORT}" \
 && pip install --no-cache-dir --no-deps . \
 && rm -f /usr/local/bin/lmz-export /usr/local/bin/lmz-train \
 && rm -rf /opt/lmz \
 && python -c "import gzip, lmz; d = b'lmz image check ' * 64; assert lmz.decompress(lmz.compress(d)) == d; \
g = gzip.compress(d * 8 + bytes(range(256)) * 8); assert lmz.decompress(lmz.compress(g)) == g; \
import struct, zlib; c = lambda k, b: struct.pack('>I', len(b)) + k + b + struct.pack('>I', zlib.crc32(k + b)); \
z = zlib.compressobj(6, 8, 15, 8, 1); r = b''.join(b'\\4' + bytes((i * i + j) % 251 for i in range(96)) for j in range(32)); \
p = b'\\x89PNG\\r\\n\\x1a\\n' + c(b'IHDR', struct.pack('>IIBBBBB', 32, 32, 8, 2, 0, 0, 0)) + c(b'IDAT', z.compress(r) + z.flush()) + c(b'IEND', b''); \
b = lmz.compress(p); assert lmz.read_header(b).segments and lmz.decompress(b) == p" \
 && lmz-run --help > /dev/null
WORKDIR /data
ENTRYPOINT ["lmz-run"]
CMD ["--help"]
