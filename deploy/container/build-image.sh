#!/bin/sh
# Build the commandpost container image with podman, from Debian's packages alone.
#
# Public registries may be out of reach; Debian's archive is enough: mmdebstrap makes a minimal
# bookworm root file system with Python, podman imports it as the base image (once: skipped when
# it exists), and the repository's Containerfile builds on top of it. Where registries are
# reachable, `podman build --build-arg BASE=docker.io/library/debian:bookworm-slim .` builds the
# same Containerfile without this script.
#
#   deploy/container/build-image.sh            # IMAGE=localhost/commandpost:latest
#   IMAGE=localhost/commandpost:test BASE_IMAGE=localhost/debian-python:bookworm deploy/container/build-image.sh
set -eu
cd "$(dirname "$0")/../.."
# One build at a time on a machine (the integration tests build in parallel): the second one finds
# the first one's base image and cached layers instead of running mmdebstrap and pip again.
exec 9>"${TMPDIR:-/tmp}/commandpost-build-image.lock"
flock 9

IMAGE="${IMAGE:-localhost/commandpost:latest}"
BASE_IMAGE="${BASE_IMAGE:-localhost/commandpost-base:bookworm}"
SUITE="${SUITE:-bookworm}"
# runc, not crun: crun cannot set up cgroups in hybrid mode on some hosts (docs/deploy.md).
RUNTIME="${RUNTIME:-runc}"

if podman image exists "$BASE_IMAGE"; then
  echo "base $BASE_IMAGE exists: skipping mmdebstrap"
else
  rootfs="$(mktemp -d)/rootfs.tar"
  echo "base $BASE_IMAGE: mmdebstrap $SUITE (1-2 minutes)"
  mmdebstrap --quiet --variant=minbase \
    --include=python3,python3-venv,ca-certificates,tzdata \
    "$SUITE" "$rootfs"
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    "$rootfs" "$BASE_IMAGE"
  rm -rf "$(dirname "$rootfs")"
fi

# --format docker keeps HEALTHCHECK (the OCI image format has no field for it); --network host
# because the build fetches wheels from PyPI and the runtime's own network setup fails on some hosts.
# The CA bundle pip should trust (a TLS-inspecting proxy's is in the system bundle) goes in as a
# build secret: mounted for the pip step only, in no layer.
PIP_CERT="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
podman --runtime "$RUNTIME" build --format docker --network host \
  --secret "id=pip-cert,src=$PIP_CERT" \
  --build-arg "BASE=$BASE_IMAGE" --tag "$IMAGE" --file Containerfile .
