# FashionNet Lab on any server: CPU-only PyTorch (the model is tiny; the CUDA build only adds GBs).
# Build: docker build -t fashionnet-lab .
# Run:   docker run -p 8501:8501 -v /path/to/fashion-mnist:/data/fashion-mnist:ro fashionnet-lab
FROM python:3.11-slim

WORKDIR /app
COPY requirements.txt .
# torch and torchvision from PyTorch's CPU-only index first; the rest of requirements.txt from PyPI.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.14.1 torchvision==0.29.1 \
 && pip install --no-cache-dir -r requirements.txt

COPY . .
# Mount the four official .gz files here (read-only is fine); without them the app downloads the data
# into the cache folder when it has network, else runs on the bundled sample and says so.
ENV FASHIONNET_DATA_DIR=/data/fashion-mnist \
    FASHIONNET_CACHE_DIR=/tmp/fashionnet-cache
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health').read() != b'ok')"
CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0"]
