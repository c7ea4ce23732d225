# shellcheck shell=bash
# Helpers shared by scripts/db, scripts/run and scripts/test. Sourced, never run.
#
# Convention: progress and errors go to stderr, so that the stdout of commands
# such as `scripts/db url` stays clean enough to be captured with $(...).

# The checkout's root, as a physical path: scripts/db derives its cluster
# directory and port from it, so a symlinked path must not count as another
# checkout.
OH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

oh_say() { printf '%s\n' "$*" >&2; }

oh_heading() { printf '\n==> %s\n' "$*" >&2; }

oh_die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Run a command as root: directly if we are root, else through sudo if there
# is one. Installing system packages is the only thing that needs it.
oh_as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        oh_die "need root to run: $* (run this as root or install sudo)"
    fi
}

oh_pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Install the Debian packages among "$@" that are not installed yet. The
# package index is refreshed once per run (exported, so scripts started from
# this one skip it too): a fresh machine has no or an old index.
oh_apt_install() {
    local pkg missing=()
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        oh_die "this is not a Debian-like system; install these yourself: $*"
    fi
    for pkg in "$@"; do
        oh_pkg_installed "$pkg" || missing+=("$pkg")
    done
    ((${#missing[@]} > 0)) || return 0

    oh_say "Installing Debian packages: ${missing[*]}"
    # Wait for a dpkg lock held by another apt (unattended-upgrades, a
    # parallel run) instead of failing at once.
    local apt=(apt-get -q -o DPkg::Lock::Timeout=300)
    if [[ -z ${OH_APT_UPDATED:-} ]]; then
        oh_as_root "${apt[@]}" update
        export OH_APT_UPDATED=1
    fi
    # env(1) because sudo would drop DEBIAN_FRONTEND; noninteractive because
    # CI has no stdin to answer debconf prompts.
    oh_as_root env DEBIAN_FRONTEND=noninteractive \
        "${apt[@]}" install -y --no-install-recommends "${missing[@]}"
}

# Headers and pkg-config for the -sys crates: pq-sys (Diesel) and openssl-sys
# (native-tls, used by the WebDriver client).
oh_ensure_build_deps() {
    oh_apt_install libpq-dev libssl-dev pkg-config
}

# rustup puts cargo in ~/.cargo/bin, which a non-login shell (CI, cron,
# sudo) may not have on PATH.
oh_ensure_cargo() {
    if ! command -v cargo >/dev/null 2>&1 && [[ -f ${HOME:-}/.cargo/env ]]; then
        # shellcheck source=/dev/null
        . "$HOME/.cargo/env"
    fi
    command -v cargo >/dev/null 2>&1 || oh_die "cargo not found: install Rust with rustup"
}

# Export DATABASE_URL: the caller's own if set (it overrides the private
# cluster), otherwise that of this checkout's private cluster, started if
# needed.
oh_ensure_database() {
    "$OH_ROOT/scripts/db" start
    DATABASE_URL=$("$OH_ROOT/scripts/db" url)
    export DATABASE_URL
}
