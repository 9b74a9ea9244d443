# scripts/docker-local.sh's last step: the image from the Dockerfile's `runtime` stage (BASE) with
# binaries built on the host (the build context holds only them). Every other setting comes from
# that stage.
ARG BASE
FROM ${BASE}
COPY . /usr/local/bin/
