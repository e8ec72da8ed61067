# The Sieve image: the API (default command) and, with `sieve worker`, the arq worker.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/sieve
# constraints.txt pins every dependency (.ci/refresh-constraints), so two builds of one
# commit install the same versions
COPY constraints.txt pyproject.toml README.md ./
COPY app ./app
COPY workers ./workers
RUN pip install --no-input -c constraints.txt . \
    && useradd --system --uid 10001 --user-group --home-dir /srv/sieve --no-create-home sieve \
    && mkdir -p /srv/sieve/.sieve \
    && chown -R sieve:sieve /srv/sieve/.sieve

# Never root: the app needs to write nothing but .sieve/ (the file mail transport's outbox)
USER sieve:sieve
EXPOSE 8000

# /health answers 200 while the process serves requests; /ready also checks PostgreSQL and Redis
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status != 200)"]

CMD ["sieve", "serve", "--host", "0.0.0.0", "--port", "8000"]
