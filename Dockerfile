# Heimdall container image: built from source in a Rust image, run from a slim Debian image as
# a non-root user. Build: `docker build -t heimdall .` (BuildKit, the default builder since
# Docker 23); run: see docs/deployment.md. Checked by scripts/check-deploy.sh with hadolint.
FROM rust:1.95-bookworm AS build
# Extra cargo features, e.g. `--build-arg CARGO_FEATURES=local-embeddings` (the model files then
# go under the app dir: docs/cache.md).
ARG CARGO_FEATURES=""
WORKDIR /src
COPY . .
# The registry and target dir live in build caches, so a rebuild compiles only what changed;
# the binary is copied out of the cached target dir within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p heimdall ${CARGO_FEATURES:+--features "$CARGO_FEATURES"} \
 && install -m 0755 target/release/heimdall /usr/local/bin/heimdall

FROM debian:bookworm-slim
# ca-certificates: TLS to the providers (rustls with the platform's roots); curl: the health
# check (the binary has no health subcommand). The binary needs only libc, libm and libgcc_s,
# which the slim image has. Versions are not pinned: a rebuild should pick up Debian's
# security updates, and bookworm's point releases remove superseded versions.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 heimdall \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --create-home heimdall \
 && install -d -o 10001 -g 10001 /app/data
COPY --from=build /usr/local/bin/heimdall /usr/local/bin/heimdall
USER 10001:10001
WORKDIR /app
ENV HEIMDALL_APP_DIR=/app/data
EXPOSE 8080
# /health (alive), not /ready: an instance without a usable provider is running, not broken.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/health"]
ENTRYPOINT ["heimdall"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
