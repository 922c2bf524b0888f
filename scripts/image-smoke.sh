#!/usr/bin/env bash
# Smoke-test the built image with podman against the host's PostgreSQL (127.0.0.1:5432):
# throwaway role + database, `relance migrate` and `relance seed` in one-shot containers, then
# the API in a container on the host network, probed over HTTP and with its own HEALTHCHECK.
# Cleans up after itself (container by id, database, role) and exits non-zero on any failure.
#
# Knobs: IMAGE, SMOKE_PORT (default 18080, the next free one is taken if busy), CONTAINER_STORAGE,
#        SMOKE_DB (database and role name), PGHOST/PGPORT of the host server.
set -euo pipefail

IMAGE=${IMAGE:-localhost/relance-api:latest}
PORT=${SMOKE_PORT:-18080}
SMOKE_DB=${SMOKE_DB:-relance_smoke}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
read -r -a SD_OPTS <<<"${CONTAINER_STORAGE:---storage-driver vfs}"
PODMAN=(podman "${SD_OPTS[@]}" --runtime runc)
# podman's default rlimits exceed what an unprivileged-capability host may set.
NOFILE=$(ulimit -Hn); [ "$NOFILE" = unlimited ] && NOFILE=65536
RUN_OPTS=(--network host --ulimit "nofile=${NOFILE}:${NOFILE}" --ulimit "nproc=4096:4096")

T0=$(date +%s.%N)
CID=
PG_STARTED=0
DB_CREATED=0
fail() { echo "image-smoke: FAIL: $*" >&2; exit 1; }
elapsed() { awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $1}"; }
# `podman` without systemd prints a harmless warning on every container start; hide only that.
podman_q() { "${PODMAN[@]}" "$@" 2> >(grep -v 'systemd' >&2); }
as_postgres() { PGOPTIONS="-c client_min_messages=warning" runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" "$@"; }

cleanup() {
  local rc=$?
  set +e
  if [ -n "$CID" ]; then
    [ "$rc" = 0 ] || { echo "--- app container logs (tail)"; "${PODMAN[@]}" logs "$CID" 2>&1 | tail -40; }
    "${PODMAN[@]}" stop -t 10 "$CID" >/dev/null 2>&1
    "${PODMAN[@]}" rm -f "$CID" >/dev/null 2>&1 && echo "removed container ${CID:0:12}"
  fi
  if [ "$DB_CREATED" = 1 ]; then
    as_postgres -d postgres -c "DROP DATABASE IF EXISTS $SMOKE_DB WITH (FORCE)" \
      -c "DROP ROLE IF EXISTS $SMOKE_DB" && echo "dropped database and role $SMOKE_DB"
  fi
  if [ "$PG_STARTED" = 1 ]; then pg_ctlcluster "${PG_CLUSTER% *}" "${PG_CLUSTER#* }" stop && echo "stopped PostgreSQL again"; fi
  echo "image-smoke: run time $(elapsed "$T0")s"
  [ "$rc" = 0 ] && echo "image-smoke: OK" || echo "image-smoke: FAILED (rc=$rc)"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || fail "run as root (podman with vfs storage, runuser postgres)"
command -v podman >/dev/null || fail "podman missing: make image installs it"
"${PODMAN[@]}" image exists "$IMAGE" || fail "image $IMAGE not found: run make image first"
"${PODMAN[@]}" image inspect "$IMAGE" \
  --format 'image {{.Id}}: size={{.Size}} user={{.Config.User}} cmd={{.Config.Cmd}}'
user=$("${PODMAN[@]}" image inspect "$IMAGE" --format '{{.Config.User}}')
case "$user" in ""|root|0|0:*|root:*) fail "image runs as root (User='$user')";; esac

# Containers left behind by an interrupted run (same fixed names) would block the new ones.
"${PODMAN[@]}" rm -f --ignore relance-smoke-app relance-smoke-default >/dev/null 2>&1 || true

# ---------------------------------------------------------------- database
if command -v pg_lsclusters >/dev/null && ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
  PG_CLUSTER=$(pg_lsclusters -h | awk -v p="$PGPORT" '$3 == p {print $1, $2; exit}')
  [ -n "$PG_CLUSTER" ] || fail "no PostgreSQL cluster on port $PGPORT"
  pg_ctlcluster ${PG_CLUSTER} start && PG_STARTED=1 && echo "started PostgreSQL $PG_CLUSTER"
fi
pg_isready -q -h "$PGHOST" -p "$PGPORT" || fail "PostgreSQL not ready at $PGHOST:$PGPORT"
# A dedicated role with a password: the container connects over TCP, which may need password auth.
PASS=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
as_postgres -d postgres -c "DROP DATABASE IF EXISTS $SMOKE_DB WITH (FORCE)" \
  -c "DROP ROLE IF EXISTS $SMOKE_DB"
DB_CREATED=1
as_postgres -d postgres -c "CREATE ROLE $SMOKE_DB LOGIN PASSWORD '$PASS'" \
  -c "CREATE DATABASE $SMOKE_DB OWNER $SMOKE_DB"
echo "created database $SMOKE_DB"
ENV_OPTS=(-e "DATABASE_URL=postgresql://$SMOKE_DB:$PASS@$PGHOST:$PGPORT/$SMOKE_DB" -e RELANCE_ENV=production)

# ---------------------------------------------------------------- one-shot migrate + seed
# One container for both, as compose.yaml does: with vfs storage each container costs ~10s.
t=$(date +%s.%N)
podman_q run --rm "${RUN_OPTS[@]}" "${ENV_OPTS[@]}" "$IMAGE" sh -c 'relance migrate && relance seed' \
  || fail "relance migrate && relance seed exited non-zero"
echo "relance migrate + seed: ok ($(elapsed "$t")s)"

# ---------------------------------------------------------------- the API
while ss -Hltn "sport = :$PORT" | grep -q .; do PORT=$((PORT + 1)); done
BASE="http://127.0.0.1:$PORT"
t=$(date +%s.%N)
# Host network: listen on 127.0.0.1:$PORT instead of the default 0.0.0.0:8000; PORT tells the
# image's HEALTHCHECK where to look.
CID=$(podman_q run -d --name relance-smoke-app "${RUN_OPTS[@]}" "${ENV_OPTS[@]}" -e "PORT=$PORT" "$IMAGE" \
  relance serve --host 127.0.0.1 --port "$PORT") || fail "podman run failed"
echo "app container ${CID:0:12} on $BASE"

ready=0
for _ in $(seq 1 240); do
  [ "$("${PODMAN[@]}" inspect -f '{{.State.Running}}' "$CID")" = true ] || fail "app container exited"
  code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz" || true)
  [ "$code" = 200 ] && { ready=1; break; }
  sleep 0.25
done
[ "$ready" = 1 ] || fail "/readyz did not answer 200 within 60s (last: $code)"
echo "/readyz 200 after $(elapsed "$t")s"

check_status() { # PATH EXPECTED
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE$1")
  [ "$code" = "$2" ] || fail "GET $1 -> $code, expected $2"
  echo "GET $1 -> $code"
}
check_items() { # PATH COUNT
  local body n
  body=$(curl -fsS "$BASE$1") || fail "GET $1 failed"
  n=$(python3 -c 'import json, sys; d = json.load(sys.stdin); print(len(d["items"]))' <<<"$body") \
    || fail "GET $1: not a page of items: ${body:0:200}"
  [ "$n" = "$2" ] || fail "GET $1 -> $n items, expected $2"
  echo "GET $1 -> $n items"
}
check_status /healthz 200
check_status /openapi.json 200
check_items /v1/priorities 3
check_items /v1/chantiers 8

# No systemd timers here, so run the image's HEALTHCHECK by hand.
podman_q healthcheck run "$CID" || fail "podman healthcheck run: unhealthy"
echo "healthcheck: $("${PODMAN[@]}" inspect -f '{{.State.Health.Status}}' "$CID" 2>/dev/null || echo healthy)"
uid=$("${PODMAN[@]}" exec "$CID" id -u)
[ "$uid" != 0 ] || fail "app runs as root inside the container"
echo "app runs as uid $uid"
"${PODMAN[@]}" stop -t 10 "$CID" >/dev/null 2>&1 && "${PODMAN[@]}" rm "$CID" >/dev/null 2>&1 && CID=

# ---------------------------------------------------------------- the image as shipped
# Default CMD (0.0.0.0:8000) and HEALTHCHECK untouched, on a private loopback (--network none)
# so port 8000 on the host is left alone. /healthz needs no database.
t=$(date +%s.%N)
CID=$(podman_q run -d --name relance-smoke-default --network none "${RUN_OPTS[@]:2}" -e RELANCE_ENV=production \
  -e "DATABASE_URL=postgresql://nobody:none@127.0.0.1:1/none" "$IMAGE") || fail "podman run failed"
healthy=0
for _ in $(seq 1 120); do
  [ "$("${PODMAN[@]}" inspect -f '{{.State.Running}}' "$CID")" = true ] || fail "default CMD exited"
  "${PODMAN[@]}" healthcheck run "$CID" >/dev/null 2>&1 && { healthy=1; break; }
  sleep 0.5
done
[ "$healthy" = 1 ] || fail "default CMD: HEALTHCHECK never passed within 60s"
echo "default CMD: HEALTHCHECK passed after $(elapsed "$t")s"
