#!/usr/bin/env bash
# Demo: builds mailfs, starts a throwaway Dovecot and SMTP server on
# loopback filled with sample mail, and mounts the account at
# $DEMO_DIR/mail (default /tmp/mailfs-demo/mail).
#   scripts/demo.sh [start]   set up and mount; servers keep running
#   scripts/demo.sh stop      unmount and stop the servers (keeps the files)
set -euo pipefail

cd "$(dirname "$0")/.."
demo_dir=${DEMO_DIR:-/tmp/mailfs-demo}
builddir=${BUILDDIR:-build}
mailfs="$PWD/$builddir/mailfs"

case "${1:-start}" in
start)
	scripts/install-deps.sh
	if [[ ! -d "$builddir/meson-private" ]]; then
		meson setup "$builddir"
	fi
	meson compile -C "$builddir"
	exec /usr/bin/python3 scripts/demo.py start "$demo_dir" "$mailfs"
	;;
stop)
	exec /usr/bin/python3 scripts/demo.py stop "$demo_dir" "$mailfs"
	;;
*)
	echo "usage: $0 [start|stop]" >&2
	exit 2
	;;
esac
