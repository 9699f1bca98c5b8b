#!/usr/bin/env bash
# Installs the Debian packages mailfs needs to build, test and demo
# (rsync, vim, nano, notmuch and attr's setfattr: the real tools of
# tests/integration/test_tools.py; util-linux's setpriv and flock and
# passwd's useradd: the unprivileged test user, scripts/as-test-user.sh;
# zsh and fish: the shell completions of data/completion/).
# Skips apt entirely when everything is already installed (fast, offline).
set -euo pipefail

packages=(
	meson ninja-build pkg-config gcc libc6-dev
	libfuse3-dev fuse3 libssl-dev libglib2.0-dev check
	libgmime-3.0-dev libxml2-dev libsqlite3-dev sqlite3 libcurl4-openssl-dev
	dovecot-imapd dovecot-pop3d
	python3 python3-aiosmtpd openssl ca-certificates
	isync curl procps time
	rsync vim nano notmuch attr tar coreutils
	util-linux passwd zsh fish
	clang libclang-rt-14-dev valgrind
)

missing=()
for pkg in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	if [[ "$status" != installed ]]; then
		missing+=("$pkg")
	fi
done

if ((${#missing[@]} == 0)); then
	echo "install-deps: all ${#packages[@]} packages present"
	exit 0
fi

sudo=()
if ((EUID != 0)); then
	if ! command -v sudo >/dev/null; then
		echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
		exit 1
	fi
	sudo=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# The dovecot packages would start the system service; we never use it
# (tests run a private Dovecot on their own ports).  Unless the machine has
# a policy already, forbid service starts during the install, so that a
# missing init system or a busy port cannot fail it.
policy=/usr/sbin/policy-rc.d
if [[ ! -e "$policy" ]]; then
	printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
	"${sudo[@]}" chmod 755 "$policy"
	trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi

"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
