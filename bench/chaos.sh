#!/bin/sh
# bench/chaos.sh BUILDDIR [JOBS]: the chaos run of t/099-chaos.t at size
# (default 10,000 jobs): jobs writing tables and files, always-crashing and
# failing jobs, child SIGKILLs, two immediate PostgreSQL restarts, a master
# SIGKILL and SIGHUP storms; prints the faults, the drain time and every
# check (jobs lost, outputs doubled or orphaned must all be 0).
# Run: sh bench/chaos.sh build 10000   (about 10-15 minutes on 2 cores)
set -eu
build=$(cd "${1:?usage: bench/chaos.sh BUILDDIR [JOBS]}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
CHAOS_JOBS=${2:-10000} GW_BUILDDIR=$build GW_SRCDIR=$src PROVE_FLAGS=-v \
    exec sh "$src/t/run-tests" t/099-chaos.t
