# Heimdall container image: built from source in a Rust image, run from a slim Debian image as
# a non-root user. Build: `docker build -t heimdall .`; run: see docs/deployment.md.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p heimdall \
 && install -m 0755 target/release/heimdall /usr/local/bin/heimdall

FROM debian:bookworm-slim
# ca-certificates: TLS to the providers (rustls with the platform's roots); curl: the health check.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --create-home heimdall
COPY --from=build /usr/local/bin/heimdall /usr/local/bin/heimdall
USER 10001
WORKDIR /app
ENV HEIMDALL_APP_DIR=/app/data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["heimdall"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
