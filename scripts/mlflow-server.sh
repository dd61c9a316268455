#!/usr/bin/env bash
# Starts and stops a throwaway MLflow tracking server on 127.0.0.1 for the
# RestStore integration test.
#
#   scripts/mlflow-server.sh install           create the venv and install mlflow (if missing)
#   scripts/mlflow-server.sh start [STATE_DIR] start a server, wait for /health, print its URI
#   scripts/mlflow-server.sh stop  STATE_DIR   stop the server started with that STATE_DIR
#
# `install` runs `python3 -m venv "$MLFLOW_VENV" && "$MLFLOW_VENV/bin/pip" install mlflow`
# (the full package; mlflow 3.17.2 at the time of writing): about 80 s with a
# cold pip cache, 40 s warm, on a 2-core machine.
#
# Environment:
#   MLFLOW_VENV     venv holding mlflow (default /tmp/mlflow-venv)
#   MLFLOW_PIP_SPEC what to pip install (default "mlflow")
#   MLFLOW_PORT     port to listen on (default: a free port picked at start)
#
# Typical CI use:
#   scripts/mlflow-server.sh install
#   state=$(mktemp -d)
#   export MLFLOW_TEST_URI=$(scripts/mlflow-server.sh start "$state")
#   cargo test --test rest_mlflow
#   scripts/mlflow-server.sh stop "$state"
set -euo pipefail
# MLflow's usage reporting stays off: traffic stays on loopback.
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true

VENV="${MLFLOW_VENV:-/tmp/mlflow-venv}"
PY_BOOT="${PYTHON:-python3}"

log() { echo "mlflow-server.sh: $*" >&2; }

install() {
    if [[ -x "$VENV/bin/mlflow" ]]; then
        log "mlflow already installed in $VENV"
        return 0
    fi
    log "creating venv $VENV"
    "$PY_BOOT" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${MLFLOW_PIP_SPEC:-mlflow}" >&2
}

free_port() {
    "$VENV/bin/python" - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

start() {
    local state="${1:-}"
    if [[ -z "$state" ]]; then
        state="$(mktemp -d -t mlflow-server.XXXXXX)"
    fi
    mkdir -p "$state/artifacts"
    if [[ ! -x "$VENV/bin/mlflow" ]]; then
        install
    fi
    local port="${MLFLOW_PORT:-$(free_port)}"
    local uri="http://127.0.0.1:$port"
    log "starting mlflow on $uri (state in $state)"
    # setsid gives the server its own process group so `stop` can end the
    # whole worker tree by group id.
    setsid "$VENV/bin/mlflow" server \
        --host 127.0.0.1 --port "$port" \
        --backend-store-uri "sqlite:///$state/mlflow.db" \
        --serve-artifacts --artifacts-destination "$state/artifacts" \
        --workers 1 \
        >"$state/server.log" 2>&1 < /dev/null &
    echo $! > "$state/server.pid"
    echo "$uri" > "$state/uri"
    local deadline=$((SECONDS + 180))
    until "$VENV/bin/python" -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('$uri/health', timeout=2).status == 200 else 1)" 2>/dev/null; do
        if ! kill -0 "$(cat "$state/server.pid")" 2>/dev/null; then
            log "server exited early; log follows"
            cat "$state/server.log" >&2
            exit 1
        fi
        if (( SECONDS > deadline )); then
            log "server did not become healthy within 180 s; log follows"
            cat "$state/server.log" >&2
            stop "$state"
            exit 1
        fi
        sleep 1
    done
    log "healthy"
    echo "$uri"
}

stop() {
    local state="${1:?usage: stop STATE_DIR}"
    if [[ -f "$state/server.pid" ]]; then
        local pid
        pid="$(cat "$state/server.pid")"
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 20); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
        rm -f "$state/server.pid"
        log "stopped"
    fi
}

case "${1:-}" in
    install) install ;;
    start) start "${2:-}" ;;
    stop) stop "${2:-}" ;;
    *) echo "usage: $0 {install|start [STATE_DIR]|stop STATE_DIR}" >&2; exit 2 ;;
esac
