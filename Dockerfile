# meshkv's container image: `docker build -t meshkv .`, then
#   docker run -d -p 6379:6379 -v meshkv-data:/data meshkv
# or `docker-compose up -d` for the three-master demo (docker-compose.yml).
#
# Two images go in: a Rust toolchain to compile meshkv (the `build` stage) and a slim Debian to run
# it (the `runtime` stage, which the final image is). Both are build arguments, so a site with its
# own mirror or a pinned digest can name them:
#   docker build --build-arg RUST_IMAGE=registry.example/rust:1.88-bookworm \
#                --build-arg RUNTIME_IMAGE=registry.example/debian:bookworm-slim -t meshkv .
# The runtime image must have the build image's glibc or a newer one (both are Debian bookworm here).
#
# scripts/docker-local.sh builds the same image on a machine without a registry: it builds the
# `runtime` stage alone (`--target runtime`) on a base image made with debootstrap, then copies in
# binaries built on the host. That is why `runtime` comes first and carries every setting of the
# final image: the last stage only adds the binaries.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- runtime: everything the final image has except the binaries ------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
# redis-tools: redis-cli for the health check and for `docker exec ... redis-cli`; it speaks TLS
# too (`redis-cli --tls`). ca-certificates: for TLS setups that use the system's trust store; it
# brings openssl, which scripts/tls-certs.sh uses (the regions demo makes its certificates in it).
# liblua5.1-0: the Lua 5.1 that EVAL runs on (the server links it dynamically, as Debian ships it).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-tools ca-certificates liblua5.1-0 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 meshkv \
 && useradd --system --uid 10001 --gid meshkv --home-dir /data --shell /usr/sbin/nologin meshkv \
 && mkdir -p /data /etc/meshkv \
 && chown meshkv:meshkv /data
COPY docker/meshkv.conf /etc/meshkv/meshkv.conf
# The data directory: the node's identity (meshkv-node-id), snapshots, the FLASH tier's RocksDB.
# A new named volume is created from the image's /data, so it belongs to the meshkv user too.
VOLUME /data
WORKDIR /data
USER meshkv
EXPOSE 6379
# The server's own answer: PING over the client port (a node still loading or wedged fails it).
# A configuration that moves the port sets MESHKV_HEALTH_PORT; one with requirepass sets
# REDISCLI_AUTH (redis-cli reads the password from it).
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD redis-cli -p "${MESHKV_HEALTH_PORT:-6379}" ping | grep -qx PONG
ENTRYPOINT ["meshkv-server"]
CMD ["/etc/meshkv/meshkv.conf"]

# ---- build: compile the release binaries --------------------------------------------------------
FROM ${RUST_IMAGE} AS build
# clang and libclang: the rocksdb crate's bindgen and RocksDB's C++ (the FLASH tier); Lua 5.1's
# headers and pkg-config: scripting (the mlua crate finds Lua through pkg-config).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends clang libclang-dev liblua5.1-0-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# meshkv-latency-proxy: the multi-region demo's gateways (docker-compose.regions.yml).
RUN cargo build --release --locked -p meshkv-server -p meshkv-latency-proxy \
 && mkdir -p /out \
 && cp target/release/meshkv-server target/release/meshkv-latency-proxy /out/

# ---- the image: runtime plus the binaries -------------------------------------------------------
FROM runtime
COPY --from=build /out/ /usr/local/bin/
