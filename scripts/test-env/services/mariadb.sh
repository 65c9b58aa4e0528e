#!/usr/bin/env bash
# Start MariaDB without systemd (CI machines have none); tests reach it as root over the unix socket
# /run/mysqld/mysqld.sock.
set -euo pipefail
if mysqladmin ping >/dev/null 2>&1; then exit 0; fi
install -d -o mysql -g root /run/mysqld
[ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
start-stop-daemon --start --background --make-pidfile --pidfile /run/mysqld/ci.pid \
  --chuid mysql --exec /usr/sbin/mariadbd -- --user=mysql
for _ in $(seq 1 120); do mysqladmin ping >/dev/null 2>&1 && exit 0; sleep 0.25; done
echo "mariadb did not start" >&2; exit 1
