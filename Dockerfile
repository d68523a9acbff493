# The same service as `make run`, for a container platform: non-root, port 8000, database from
# VERIFY_DATABASE_URL (the embedded cluster is for single machines; a container gets a real server).
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY verify ./verify
RUN python -m venv /opt/verify \
 && /opt/verify/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/verify/bin/pip install --no-cache-dir .

FROM python:3.11-slim-bookworm
# The certificate's faces (docs/CERTIFICATES.md): installed with the image, never fetched at run time.
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      fonts-arphic-ukai fonts-liberation fonts-hanazono \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --home-dir /srv/verify --create-home verify
COPY --from=build /opt/verify /opt/verify
COPY web /srv/verify/web
ENV PATH=/opt/verify/bin:$PATH \
    VERIFY_HOME=/srv/verify/var \
    VERIFY_WEB_DIR=/srv/verify/web \
    VERIFY_HOST=0.0.0.0 \
    VERIFY_PORT=8000 \
    VERIFY_WORKERS=2 \
    PYTHONUNBUFFERED=1
USER verify
WORKDIR /srv/verify
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status == 200 else 1)"
# VERIFY_DATABASE_URL must be set: `docker run -e VERIFY_DATABASE_URL=postgresql://... -p 8000:8000 verify`.
# The container only verifies: signing keys stay with the publishing process (`verify publish` elsewhere).
CMD ["sh", "-c", "test -n \"$VERIFY_DATABASE_URL\" || { echo 'set VERIFY_DATABASE_URL (设置 VERIFY_DATABASE_URL)' >&2; exit 7; }; exec verify serve"]
