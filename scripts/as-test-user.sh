#!/usr/bin/env bash
# Runs an integration test as the unprivileged user its mounts are meant
# for:
#   scripts/as-test-user.sh COMMAND [ARG...]
# Started by root, it makes the test user ready (scripts/test-user-setup.sh:
# the user, /dev/fuse, read access to the current directory, the source
# tree's meson.build and $MAILFS_BIN), then runs COMMAND as that user with
# setpriv: its own groups, umask 022, HOME a fresh private directory
# (removed afterwards), USER and LOGNAME set, root's XDG_* directories
# dropped, every other variable kept (MAILFS_BIN, ASAN_OPTIONS, ...).
# Started by anyone else, it runs COMMAND unchanged.  Exits with COMMAND's
# status.
#   MAILFS_TEST_USER  the user (default mailfs-test); "root" runs COMMAND
#                     as root, unchanged.
set -euo pipefail

user=${MAILFS_TEST_USER:-mailfs-test}
if ((EUID != 0)) || [[ "$user" == root ]]; then
	exec "$@"
fi

here=$(dirname "$(readlink -f "$0")")
# Tests run in parallel: one set-up at a time.
reach=("$PWD" "$here/../meson.build")
[[ -n "${MAILFS_BIN:-}" ]] && reach+=("$MAILFS_BIN")
flock /run/lock/mailfs-test-user.lock \
	"$here/test-user-setup.sh" "$user" "${reach[@]}"

home=$(mktemp -d "/tmp/mailfs-test-home.XXXXXX")
chown "$user:" "$home"
chmod 700 "$home"
# --one-file-system: a mount the test left behind is not emptied.
trap 'rm -rf --one-file-system "$home"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

umask 022
rc=0
env -u XDG_RUNTIME_DIR -u XDG_CONFIG_HOME -u XDG_CACHE_HOME \
	-u XDG_DATA_HOME -u XDG_STATE_HOME -u MAIL \
	HOME="$home" USER="$user" LOGNAME="$user" \
	setpriv --reuid="$user" --regid="$user" --init-groups -- "$@" || rc=$?
exit "$rc"
