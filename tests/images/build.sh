#!/usr/bin/env bash
# Make sure a Docker engine runs here, then build the systemd base images the lab and the
# molecule scenarios boot, unless they exist already.
#
# Nothing is pulled from a registry: each image is a debootstrap of Debian's archive, imported
# with `docker import`. Users who can pull a systemd image name it in HAMAIL_IMAGE_<SUITE>
# (for example HAMAIL_IMAGE_TRIXIE=registry.example/debian-systemd:13) and this script leaves
# that suite alone.
#
# Usage: tests/images/build.sh [SUITE ...]      (default: trixie bookworm)
set -euo pipefail

SUITES=("$@")
[ ${#SUITES[@]} -gt 0 ] || SUITES=(trixie bookworm)
MIRROR="${HAMAIL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES="systemd,systemd-sysv,python3,python3-apt,iproute2,procps,dbus,ca-certificates,gnupg,sudo"

log() { printf 'images: %s\n' "$*"; }

image_name() {
    # HAMAIL_IMAGE_TRIXIE / HAMAIL_IMAGE_BOOKWORM override the default local name.
    local var="HAMAIL_IMAGE_${1^^}"
    printf '%s' "${!var:-hamail/debian-systemd:$1}"
}

ensure_engine() {
    if docker info >/dev/null 2>&1; then
        log "reusing the running Docker engine ($(docker version --format '{{.Server.Version}}'))"
        return
    fi
    if ! command -v dockerd >/dev/null 2>&1; then
        log "no Docker engine installed: installing Debian's docker.io"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq docker.io >/dev/null
    fi
    log "starting dockerd (log: /var/log/dockerd.log)"
    # setsid: the engine must outlive the make target that started it.
    setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &
    for _ in $(seq 1 60); do
        if docker info >/dev/null 2>&1; then
            log "Docker engine $(docker version --format '{{.Server.Version}}') is up"
            return
        fi
        sleep 1
    done
    log "dockerd did not come up in 60 s; last lines of /var/log/dockerd.log:"
    tail -n 20 /var/log/dockerd.log >&2
    exit 1
}

ensure_debootstrap() {
    command -v debootstrap >/dev/null 2>&1 && return
    log "installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq debootstrap >/dev/null
}

build_suite() {
    local suite="$1" name rootfs
    name="$(image_name "$suite")"
    if docker image inspect "$name" >/dev/null 2>&1; then
        log "reusing image $name"
        return
    fi
    if [ "$name" != "hamail/debian-systemd:$suite" ]; then
        log "image $name (set by HAMAIL_IMAGE_${suite^^}) is not present; pull or load it first"
        exit 1
    fi
    ensure_debootstrap
    rootfs="$(mktemp -d "/var/tmp/hamail-rootfs-$suite.XXXXXX")"
    trap 'rm -rf "$rootfs"' RETURN
    log "building $name by debootstrap from $MIRROR (about a minute)"
    debootstrap --variant=minbase --include="$PACKAGES" "$suite" "$rootfs" "$MIRROR" \
        >"/var/tmp/hamail-debootstrap-$suite.log" 2>&1 || {
        log "debootstrap of $suite failed; see /var/tmp/hamail-debootstrap-$suite.log"
        exit 1
    }
    # Units that make no sense in a container, and would only slow down the boot or fail.
    rm -f "$rootfs"/etc/systemd/system/*.wants/getty@*.service \
          "$rootfs"/lib/systemd/system/multi-user.target.wants/getty.target
    ln -sf /dev/null "$rootfs/etc/systemd/system/systemd-firstboot.service"
    ln -sf /dev/null "$rootfs/etc/systemd/system/console-getty.service"
    printf 'deb %s %s main\n' "$MIRROR" "$suite" >"$rootfs/etc/apt/sources.list"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    # An old date on the empty package lists, so that `apt cache_valid_time` refreshes them
    # on the first run instead of taking the empty folder for a fresh cache.
    touch -d '2000-01-01' "$rootfs/var/lib/apt/lists"
    tar -C "$rootfs" -c . | docker import \
        --change 'CMD ["/lib/systemd/systemd"]' \
        --change 'ENV container=docker' \
        - "$name" >/dev/null
    log "built image $name"
}

ensure_engine
for suite in "${SUITES[@]}"; do
    build_suite "$suite"
done
