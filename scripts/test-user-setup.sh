#!/usr/bin/env bash
# Makes the machine ready for integration tests run as an unprivileged user
# (scripts/as-test-user.sh drops to it).  Run as root; idempotent and quick
# when everything is in place already:
#   scripts/test-user-setup.sh USER [PATH...]
# - creates the normal user USER (default mailfs-test) with a home
#   directory, unless it exists;
# - makes /dev/fuse usable by it (Debian's udev makes it 0666; without udev,
#   as in containers and CI, it is 0600) and checks that
#   /usr/bin/fusermount3 (package fuse3) is setuid root, and lets users
#   mount with allow_other (user_allow_other in /etc/fuse.conf);
# - makes every PATH (the build's mailfs binary, the integration test
#   directory, the source tree's meson.build) reachable and readable by
#   USER: a directory above it that USER cannot enter gets o+x (enter, not
#   list), and a PATH still unreadable then gets o+rX.  CI clones under
#   root's directories; say so on stderr when a mode is changed.
# Exits non-zero, with one line saying why, if the user cannot be made or
# FUSE cannot be used by it.
set -euo pipefail

user=${1:-mailfs-test}
shift || true

die() {
	echo "test-user-setup: $*" >&2
	exit 1
}

((EUID == 0)) || die "must run as root"

if ! getent passwd "$user" >/dev/null; then
	useradd --create-home --user-group --shell /bin/bash \
		--comment "mailfs integration tests" "$user" ||
		die "cannot create the user $user"
	echo "test-user-setup: created the user $user" >&2
fi
home=$(getent passwd "$user" | cut -d: -f6)
if [[ ! -d "$home" ]]; then
	install -d -o "$user" -g "$(id -gn "$user")" -m 755 "$home"
fi

# as_user TEST-ARGS...: test(1) run as USER.
as_user() {
	setpriv --reuid="$user" --regid="$user" --init-groups -- test "$@"
}

if [[ ! -c /dev/fuse ]]; then
	modprobe fuse 2>/dev/null || true
fi
[[ -c /dev/fuse ]] || die "/dev/fuse is missing: load the fuse module"
if ! as_user -r /dev/fuse -a -w /dev/fuse; then
	chmod 0666 /dev/fuse
	echo "test-user-setup: chmod 0666 /dev/fuse (as udev does)" >&2
fi
fusermount=/usr/bin/fusermount3
[[ -u "$fusermount" && "$(stat -c %u "$fusermount")" == 0 ]] ||
	die "$fusermount is not setuid root: install the fuse3 package"
# test_allow_other: a user's mount with -o allow_other needs this line.
if ! grep -qx 'user_allow_other' /etc/fuse.conf 2>/dev/null; then
	echo user_allow_other >>/etc/fuse.conf
	echo "test-user-setup: user_allow_other added to /etc/fuse.conf" >&2
fi

# reach PATH: every directory above PATH can be entered by USER.
reach() {
	local dir
	dir=$(dirname "$1")
	while [[ "$dir" != / ]]; do
		if ! as_user -x "$dir"; then
			chmod o+x "$dir"
			echo "test-user-setup: chmod o+x $dir (so $user reaches $1)" >&2
		fi
		dir=$(dirname "$dir")
	done
}

for path in "$@"; do
	path=$(readlink -f "$path")
	[[ -e "$path" ]] || die "no such path: $path"
	reach "$path"
	# USER is in no group of the tree's owner: the "other" bits decide.
	if [[ -z "$(find "$path" -xdev \( -type d ! -perm -o=rx \) -o \
		\( -type f ! -perm -o=r \) -print -quit)" ]]; then
		continue
	fi
	chmod -R o+rX "$path"
	echo "test-user-setup: chmod -R o+rX $path (so $user reads it)" >&2
done
