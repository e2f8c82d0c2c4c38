# contacts-server: the GraphQL API, as a small image that runs as a non-root user.
#
# The steps are the README's "Install without Docker" steps: `pip install .` (no dev
# extras), then `contacts-server serve`, which applies pending migrations before serving.
# Configuration comes from the environment (see the README's "Configuration").
#
#   docker build -t contacts-server .
#   docker run --rm -p 8000:8000 -e DATABASE_URL=postgres://... contacts-server

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The account the server runs as: no login shell, no password, owns nothing but its data.
RUN groupadd --system --gid 10001 contacts \
    && useradd --system --uid 10001 --gid contacts --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin contacts

WORKDIR /app

# Only what the package needs; .dockerignore keeps the rest (and any .env) out of the context.
COPY pyproject.toml README.md ./
COPY server ./server
COPY schema ./schema

RUN pip install .

# The default DATABASE_URL is an SQLite file under ./data: give the user that directory,
# so that `docker run` without a DATABASE_URL works too (mount a volume there to keep it).
RUN mkdir /app/data && chown contacts:contacts /app/data

USER contacts

EXPOSE 8000

# python, not curl: the slim image has no curl. Exit 0 only on a 2xx from /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

ENTRYPOINT ["contacts-server"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
