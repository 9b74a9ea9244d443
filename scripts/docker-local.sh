#!/usr/bin/env bash
# Builds, on a machine that cannot pull images, every image the compose files need.
#
#   scripts/docker-local.sh                      # builds the release binaries with cargo first
#   scripts/docker-local.sh --bin-dir DIR        # takes meshkv-server and meshkv-latency-proxy from DIR
#   scripts/docker-local.sh --base-only          # only the base image
#   MESHKV_IMAGE=name MESHKV_BASE_IMAGE=name     # the tags it makes (meshkv:local, meshkv-local/debian:bookworm-minbase)
#
# The shipped Dockerfile is the normal way: `docker build .` compiles meshkv in a Rust image and
# copies it into a slim Debian one. That needs a registry to pull both from. This script is for a
# machine like the ones meshkv is developed on: Docker Engine with the classic builder, no registry,
# but Debian's package archive reachable. It makes the same image in three steps:
#
#  1. a Debian bookworm base image from `debootstrap --variant=minbase` and `docker import`
#     (about a minute, ~120 MB), kept as $MESHKV_BASE_IMAGE and reused when it exists;
#  2. the Dockerfile's `runtime` stage on top of it (`--target runtime`, the stage that installs
#     redis-cli and makes the non-root user), so the local image is set up by the same lines as the
#     shipped one;
#  3. the binaries built here on the host copied into it (docker/prebuilt.Dockerfile). The host must
#     have the base image's glibc or an older one: Debian 12 builds run there as they are.
#
# The result is tagged $MESHKV_IMAGE (default meshkv:local), the name the compose files use, so
# `docker-compose up -d` then starts without building or pulling anything.
set -euo pipefail
cd "$(dirname "$0")/.."

base_image="${MESHKV_BASE_IMAGE:-meshkv-local/debian:bookworm-minbase}"
image="${MESHKV_IMAGE:-meshkv:local}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
bin_dir=""
base_only=false

while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) bin_dir="$2"; shift 2 ;;
    --base-only) base_only=true; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "docker-local.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

say() { echo "docker-local.sh: $*"; }

# Step 1: the base image. debootstrap writes a root file system into a temporary directory; its
# tarball becomes an image with no parent. Reused when present: delete it to refresh it.
build_base() {
  if docker image inspect "$base_image" >/dev/null 2>&1; then
    say "base image $base_image exists, reusing it"
    return
  fi
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap"
    apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
  fi
  local root
  root="$(mktemp -d /var/tmp/meshkv-rootfs.XXXXXX)"
  # shellcheck disable=SC2064 # expand $root now: it is local to this function
  trap "rm -rf '$root'" EXIT
  say "debootstrap --variant=minbase bookworm into $root (about a minute)"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 ||
    { tail -20 "$root.log" >&2; exit 1; }
  rm -f "$root.log"
  # What a Docker base image leaves out: downloaded packages and package lists (the Dockerfile
  # runs apt-get update itself).
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" --numeric-owner -c . | docker import \
    --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$base_image" >/dev/null
  rm -rf "$root"
  trap - EXIT
  say "base image $base_image built ($(docker image inspect -f '{{.Size}}' "$base_image" | numfmt --to=iec))"
}

build_base
$base_only && exit 0

# The binaries the image carries: built here with cargo unless a directory of them was given.
binaries=(meshkv-server meshkv-latency-proxy)
if [ -z "$bin_dir" ]; then
  say "cargo build --release (${binaries[*]})"
  cargo build --release --locked "${binaries[@]/#/--package=}"
  bin_dir="${CARGO_TARGET_DIR:-target}/release"
fi
context="$(mktemp -d /var/tmp/meshkv-image.XXXXXX)"
trap 'rm -rf "$context"' EXIT
for b in "${binaries[@]}"; do
  [ -x "$bin_dir/$b" ] || { echo "docker-local.sh: $bin_dir/$b is missing" >&2; exit 1; }
  cp "$bin_dir/$b" "$context/"
done

# Step 2: the Dockerfile's runtime stage on the local base (its apt-get reaches Debian's archive).
say "building the runtime stage on $base_image"
docker build -q --target runtime --build-arg "RUNTIME_IMAGE=$base_image" -t meshkv-local/runtime . >/dev/null

# Step 3: the binaries into it.
say "building $image from $bin_dir"
docker build -q -f docker/prebuilt.Dockerfile --build-arg BASE=meshkv-local/runtime -t "$image" "$context" >/dev/null
say "$image ready: $(docker run --rm --entrypoint meshkv-server "$image" --version)"
