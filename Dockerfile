# contacts-server: the GraphQL API, as a small image that runs as a non-root user.
#
# Three stages: the playground's JavaScript and CSS from npm, the Python environment from
# uv.lock (the locked versions, without the dev tools), and the image itself, which has
# neither npm nor uv. Configuration comes from the environment (docs/configuration.md).
#
#   docker build -t contacts-server .
#   docker run --rm -p 8000:8000 -e DATABASE_URL=postgres://... contacts-server

# ---------------------------------------------------------------- the playground's files
FROM node:20-slim AS playground
WORKDIR /playground
# .npmrc: without its legacy-peer-deps, npm ci refuses the explorer plugin's peer range.
COPY playground/package.json playground/package-lock.json playground/.npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund

# ---------------------------------------------------------------- the Python environment
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never

# The same uv as the Makefile's (UV_VERSION there).
RUN pip install "uv==0.13.8"

WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY server ./server
COPY schema ./schema
# --locked: refuse a uv.lock that does not match pyproject.toml; the project itself is
# installed like any package (not editable), so the image needs no source tree at run time.
RUN uv sync --locked --no-dev --no-editable

# ---------------------------------------------------------------- the image
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH="/app/.venv/bin:$PATH" \
    PLAYGROUND_ASSETS_DIR=/app/playground/node_modules

# The account the server runs as: no login shell, no password, owns nothing but its data.
RUN groupadd --system --gid 10001 contacts \
    && useradd --system --uid 10001 --gid contacts --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin contacts

WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY --from=playground /playground/node_modules /app/playground/node_modules

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
