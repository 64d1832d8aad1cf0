# syntax=docker/dockerfile:1
# One image, two binaries: `stepline` (coordinator/CLI) and `stepline-worker`.
#   docker build -t stepline:dev .
#   docker run -p 8083:8083 -p 50051:50051 stepline:dev      # dev mode, private redis-server
#   docker run stepline:dev stepline-worker --coordinator http://host:50051 --queue q --handler echo

# Bookworm on both sides, so the binaries link against the runtime's glibc.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target dir between builds; the binaries are
# copied out in the same step because a cache mount is not part of the layer.
# protox compiles the proto in Rust, so no protoc is needed.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p stepline -p stepline-worker \
    && mkdir -p /out \
    && cp target/release/stepline target/release/stepline-worker /out/

FROM debian:bookworm-slim
# redis-server: `stepline serve` spawns a private one when REDIS_URL is unset (dev mode).
# tini: PID 1 that forwards SIGTERM (graceful drain) and reaps that redis child.
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server tini ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/stepline --create-home stepline
COPY --from=build /out/stepline /out/stepline-worker /usr/local/bin/
USER 10001
# Dev mode keeps its redis data under the working directory.
WORKDIR /var/lib/stepline
# The binaries default to 127.0.0.1, unreachable from outside a container.
ENV STEPLINE_HTTP_ADDR=0.0.0.0:8083 \
    STEPLINE_GRPC_ADDR=0.0.0.0:50051
EXPOSE 8083 50051
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["stepline", "serve"]
