#!/usr/bin/env bash
# docker/build.sh FLAVOR: build docker/Dockerfile.FLAVOR (cpu, cuda or tpu) with buildah, on a
# machine with no Docker daemon and perhaps no image registry. Run it as root from anywhere.
#
# 1. Installs Debian's buildah and debootstrap when missing (apt-get).
# 2. The base image: $BASE_IMAGE when set; else the registry's base (Docker Hub's
#    python:3.11-slim-bookworm for cpu and tpu, nvidia/cuda's runtime for cuda) when the
#    registry answers within a few seconds; else localhost/algoperf-like-base:bookworm, a Debian
#    bookworm (minbase + python3, python3-venv, ca-certificates) that debootstrap makes from
#    Debian's package archive ($DEBIAN_MIRROR) and that is kept for the next build.
# 3. buildah bud --isolation chroot, the host's CA bundle ($CA_BUNDLE, default
#    /etc/ssl/certs/ca-certificates.crt) passed as the build secret `ca` (pip uses it for its
#    downloads; the Dockerfile mounts it for that step only);
# 4. removes the image the tag named before (vfs keeps full copies), and checks that the
#    host's CA bundle is in no file of the image that its base lacks.
#
# The last line of output is the image reference (localhost/algoperf-like:FLAVOR). Progress
# and timings go to stderr. Environment: BASE_IMAGE, IMAGE (the reference to tag),
# STORAGE_DRIVER (default vfs: works inside containers, where overlay often does not),
# DEBIAN_MIRROR (default http://deb.debian.org/debian), REGISTRY_TIMEOUT (seconds, default 5).
set -euo pipefail
FLAVOR="${1:-cpu}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
DOCKERFILE="$REPO/docker/Dockerfile.$FLAVOR"
[ -f "$DOCKERFILE" ] || { echo "build.sh: no $DOCKERFILE (flavors: cpu, cuda, tpu)" >&2; exit 2; }
IMAGE="${IMAGE:-localhost/algoperf-like:$FLAVOR}"
LOCAL_BASE=localhost/algoperf-like-base:bookworm
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
export STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}"
START=$SECONDS
log() { echo "[build.sh +$((SECONDS - START))s] $*" >&2; }

if ! command -v buildah > /dev/null || ! command -v debootstrap > /dev/null; then
  log "installing buildah and debootstrap (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q buildah debootstrap >&2
fi

registry_base() {
  case "$FLAVOR" in
    cuda) echo docker.io/nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04 ;;
    *) echo docker.io/library/python:3.11-slim-bookworm ;;
  esac
}

registry_reachable() {
  # Any HTTP answer (401 included) means the registry is there.
  local code
  code="$(curl -s -o /dev/null -m "${REGISTRY_TIMEOUT:-5}" -w '%{http_code}' \
    https://registry-1.docker.io/v2/ 2> /dev/null || true)"
  [ -n "$code" ] && [ "$code" != 000 ]
}

bootstrap_base() {
  local rootfs ctr mnt
  rootfs="$(mktemp -d -t algoperf-like-rootfs.XXXXXX)"
  log "no registry: bootstrapping Debian bookworm from $DEBIAN_MIRROR into $rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs" "$DEBIAN_MIRROR" > "$rootfs.log" 2>&1 || {
    tail -20 "$rootfs.log" >&2
    exit 1
  }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  ctr="$(buildah from scratch)"
  mnt="$(buildah mount "$ctr")"
  tar -C "$rootfs" -cf - . | tar -C "$mnt" -xf -
  buildah umount "$ctr" > /dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --cmd /bin/bash "$ctr"
  buildah commit --quiet "$ctr" "$LOCAL_BASE" > /dev/null
  buildah rm "$ctr" > /dev/null
  rm -rf "$rootfs" "$rootfs.log"
  log "tagged $LOCAL_BASE"
}

if [ -n "${BASE_IMAGE:-}" ]; then
  base="$BASE_IMAGE"
elif registry_reachable; then
  base="$(registry_base)"
  log "registry reachable: base $base"
  buildah pull --quiet "$base" > /dev/null
else
  [ "$FLAVOR" = cpu ] || [ "$FLAVOR" = tpu ] || log "warning: no registry; $FLAVOR on plain Debian"
  if buildah inspect --type image "$LOCAL_BASE" > /dev/null 2>&1; then
    log "base $LOCAL_BASE (built earlier)"
  else
    bootstrap_base
  fi
  base="$LOCAL_BASE"
fi

lock_sha="$(sha256sum "$REPO/constraints.txt" | cut -d' ' -f1)"
commit="$(git -C "$REPO" rev-parse HEAD 2> /dev/null || echo unknown)"
if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2> /dev/null)" ]; then
  commit="$commit-dirty"  # Built from a working tree with uncommitted changes.
fi
secret=()
[ -s "$CA_BUNDLE" ] && secret=(--secret "id=ca,src=$CA_BUNDLE")
previous="$(buildah images --quiet --no-trunc "$IMAGE" 2> /dev/null || true)"
log "building $IMAGE from $DOCKERFILE (lock sha256 $lock_sha)"
buildah bud --isolation chroot --format docker --layers=false \
  -f "$DOCKERFILE" --build-arg "BASE_IMAGE=$base" --build-arg "LOCK_SHA256=$lock_sha" \
  --build-arg "SOURCE_COMMIT=$commit" "${secret[@]}" -t "$IMAGE" "$REPO" >&2
log "built $IMAGE"
current="$(buildah images --quiet --no-trunc "$IMAGE")"
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
  # The image this tag named before: untagged now, and a full copy on disk with vfs.
  buildah rmi "$previous" > /dev/null 2>&1 || log "kept the previous image $previous (in use)"
fi

if [ -s "$CA_BUNDLE" ]; then
  # The bundle must not be in the image: look for a file of its size and content that the
  # base image does not have byte for byte at the same path.
  ctr="$(buildah from --pull-never "$IMAGE")"
  base_ctr="$(buildah from --pull-never "$base")"
  mnt="$(buildah mount "$ctr")"
  base_mnt="$(buildah mount "$base_ctr")"
  leaked=()
  while IFS= read -r -d '' f; do
    rel="${f#"$mnt"}"
    if cmp -s "$f" "$CA_BUNDLE" && ! cmp -s "$base_mnt$rel" "$CA_BUNDLE"; then leaked+=("$rel"); fi
  done < <(find "$mnt" -xdev -type f -size "$(stat -c %s "$CA_BUNDLE")c" -print0)
  buildah umount "$ctr" "$base_ctr" > /dev/null
  buildah rm "$ctr" "$base_ctr" > /dev/null
  if [ "${#leaked[@]}" -gt 0 ]; then
    echo "build.sh: the host's CA bundle is in the image: ${leaked[*]}" >&2
    exit 1
  fi
  log "checked: the host's CA bundle is in no layer of $IMAGE"
fi
log "done in $((SECONDS - START))s"
echo "$IMAGE"
