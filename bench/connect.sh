#!/bin/sh
# bench/connect.sh: what a job's connection costs the database, by the
# settings an operator controls (doc/performance.md), measured with
# `pgbench -C` (a new connection per transaction, as each job has) on one
# throwaway cluster, 2 clients, 10 s each:
#   - TCP with scram-sha-256, a Unix socket with scram-sha-256, a Unix socket
#     with trust (peer is the same on the server side: no password exchange);
#   - a first PostGIS call in each fresh backend (what every GIS job's
#     backend does), without and with shared_preload_libraries = 'postgis-3'.
# Run: sh bench/connect.sh   (wraps itself in pg_virtualenv twice)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${PGHOST:-}" ]; then
	echo "== without shared_preload_libraries"
	pg_virtualenv -t "$0" run
	echo "== with shared_preload_libraries = 'postgis-3'"
	PRELOAD=1 pg_virtualenv -t -o "shared_preload_libraries=postgis-3" "$0" run
	exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PGOPTIONS='-c client_min_messages=warning'
createdb cbench
psql -X -q -d cbench -c "CREATE EXTENSION postgis"
sockdir=$(psql -X -A -t -c "SHOW unix_socket_directories" | cut -d, -f1)
hba=$(psql -X -A -t -c "SHOW hba_file")
echo "SELECT 1;" > "$work/select1.sql"
echo "SELECT postgis_lib_version();" > "$work/postgis.sql"
tps() {	# $1 host, $2 script
	pgbench -n -C -c 2 -j 2 -T 10 -f "$2" -h "$1" cbench 2>/dev/null |
	    sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1
}
if [ -z "${PRELOAD:-}" ]; then
	sed -i 's/^local\(.*\)\(peer\|trust\|md5\)$/local\1scram-sha-256/' "$hba"
	psql -X -q -c "SELECT pg_reload_conf()" >/dev/null
	echo "SELECT 1, TCP + scram-sha-256:    $(tps localhost "$work/select1.sql") connections/s"
	echo "SELECT 1, socket + scram-sha-256: $(tps "$sockdir" "$work/select1.sql") connections/s"
	sed -i 's/^local\(.*\)scram-sha-256$/local\1trust/' "$hba"
	psql -X -q -h localhost -c "SELECT pg_reload_conf()" >/dev/null
	echo "SELECT 1, socket + trust/peer:    $(tps "$sockdir" "$work/select1.sql") connections/s"
else
	sed -i 's/^local\(.*\)\(peer\|scram-sha-256\|md5\)$/local\1trust/' "$hba"
	psql -X -q -c "SELECT pg_reload_conf()" >/dev/null
fi
echo "first PostGIS call, socket + trust: $(tps "$sockdir" "$work/postgis.sql") connections/s"
