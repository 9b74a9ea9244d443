#!/usr/bin/env bash
# redis-py's own ACL tests (`-k acl` of its tests/test_commands.py and
# tests/test_asyncio/test_commands.py, sync and asyncio) against a server on a given port.
#
#   scripts/redis_py_acl_suite.sh PORT [extra pytest arguments...]
#
# The tests come from redis-py's source distribution on PyPI, for the redis-py version installed
# here (or REDIS_PY_VERSION), fetched once with pip into a cache directory (REDIS_PY_SUITE_DIR,
# by default ~/.cache/meshkv/redis-py-<version>) together with a virtual environment holding
# pytest and pytest-asyncio. Nothing of redis-py is copied into this repository.
#
# The server must be fresh and without a password (the tests create and delete their own users,
# and run FLUSHALL). Tests that need a newer server than the one answering are skipped by
# redis-py's own version markers (`-rfEs` lists them with the reason, and the failures).
set -euo pipefail

port=${1:?usage: $0 PORT [pytest arguments...]}
shift

python=${PYTHON:-python3}
version=${REDIS_PY_VERSION:-$("$python" -c 'import redis; print(redis.__version__)')}
dir=${REDIS_PY_SUITE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meshkv/redis-py-$version}
src=$dir/redis-$version
mkdir -p "$dir"

if [ ! -d "$src/tests" ]; then
    "$python" -m pip download --quiet --no-deps --no-binary :all: -d "$dir" "redis==$version"
    tar -xzf "$dir/redis-$version.tar.gz" -C "$dir"
fi
if [ ! -x "$dir/venv/bin/python" ]; then
    "$python" -m venv --system-site-packages "$dir/venv"
fi
if ! "$dir/venv/bin/python" -c 'import pytest, pytest_asyncio' 2>/dev/null; then
    "$dir/venv/bin/python" -m pip install --quiet pytest pytest-asyncio
fi

# Run from the unpacked source: its tests import the `redis` package next to them (the same
# version as the one installed).
cd "$src"
exec "$dir/venv/bin/python" -m pytest tests/test_commands.py tests/test_asyncio/test_commands.py \
    -k acl --redis-url="redis://127.0.0.1:$port/0" -p no:cacheprovider -q -rfEs "$@"
