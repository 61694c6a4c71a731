# The Datatrust service image: `datatrust serve` and `datatrust worker` (docker-compose.yml).
# Not built on the project's machines (no image registry is reachable there); the same
# commands run without containers in tests/test_cluster.py.
FROM python:3.11-slim-bookworm

# libchromaprint1: audio fingerprints (the pipeline works without it, but finds fewer
# near-duplicates). Media codecs come bundled with the PyAV and soundfile wheels.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libchromaprint1 \
    && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir uv \
    && useradd --system --create-home --home-dir /var/lib/datatrust datatrust

WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY src ./src
RUN uv sync --frozen --no-dev --no-cache

ENV PATH=/app/.venv/bin:$PATH \
    DATATRUST_DATA_DIR=/var/lib/datatrust
USER datatrust
EXPOSE 8000
CMD ["datatrust", "serve", "--host", "0.0.0.0", "--port", "8000"]
