# The hub's image: API (`coalition-hub serve`), migrations and dispatchers all run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml constraints.txt README.md ./
COPY hub ./hub
COPY partners ./partners
COPY routing ./routing
COPY pin ./pin
COPY connectors ./connectors
RUN pip install -c constraints.txt . && useradd --system --uid 10001 hub && mkdir -p /app/var && chown hub /app/var

USER hub
EXPOSE 8000
ENV HUB_HOST=0.0.0.0 HUB_PORT=8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
CMD ["coalition-hub", "serve", "--no-migrate"]
