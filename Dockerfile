FROM python:3.11-slim
WORKDIR /srv/sieve
COPY pyproject.toml README.md ./
COPY app ./app
COPY workers ./workers
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["sieve", "serve", "--host", "0.0.0.0", "--port", "8000"]
