#!/usr/bin/env bash
# Object-storage servers on 127.0.0.1 for the remote tests: S3 (moto), Azure Blob (azurite) and
# Google Cloud Storage (gcp-storage-emulator), each with an empty bucket `pipeline-test`.
#
#   scripts/storage-servers.sh install           install the servers (if missing)
#   scripts/storage-servers.sh start STATE_DIR   start them, create the buckets, print `export` lines
#   scripts/storage-servers.sh stop  STATE_DIR   stop the servers started with that STATE_DIR
#
# Typical use:
#   scripts/storage-servers.sh install
#   state=$(mktemp -d)
#   eval "$(scripts/storage-servers.sh start "$state")"
#   cargo test -p pipeline-tests --test object_remotes -- --ignored
#   scripts/storage-servers.sh stop "$state"
#
# Environment:
#   STORAGE_VENV  venv with moto[server], gcp-storage-emulator, boto3, azure-storage-blob
#                 (default $HOME/.cache/pipeline-ci/storage-venv)
#   STORAGE_NPM   npm prefix holding azurite (default $HOME/.cache/pipeline-ci/npm)
set -euo pipefail

VENV="${STORAGE_VENV:-$HOME/.cache/pipeline-ci/storage-venv}"
NPM="${STORAGE_NPM:-$HOME/.cache/pipeline-ci/npm}"
BUCKET=pipeline-test

log() { echo "storage-servers.sh: $*" >&2; }

install() {
    if [[ ! -x "$VENV/bin/moto_server" || ! -x "$VENV/bin/gcp-storage-emulator" ]] \
        || ! "$VENV/bin/python" -c "import azure.storage.blob" 2>/dev/null; then
        log "creating venv $VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check \
            "moto[server]" gcp-storage-emulator azure-storage-blob >&2
    fi
    if [[ ! -x "$NPM/node_modules/.bin/azurite-blob" ]]; then
        if ! command -v npm >/dev/null 2>&1; then
            log "installing Debian's nodejs and npm"
            { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm; } >&2
        fi
        log "installing azurite into $NPM"
        mkdir -p "$NPM"
        (cd "$NPM" && npm install --silent --no-audit --no-fund azurite >&2)
    fi
}

free_port() {
    "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() { # URL
    for _ in $(seq 1 300); do
        if "$VENV/bin/python" -c "import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    pass
" "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    log "no answer from $1"
    return 1
}

start() {
    local state="$1"
    mkdir -p "$state"
    install
    local s3 az gcs
    s3="$(free_port)"
    az="$(free_port)"
    gcs="$(free_port)"
    "$VENV/bin/moto_server" -H 127.0.0.1 -p "$s3" >"$state/moto.log" 2>&1 &
    echo $! >"$state/moto.pid"
    "$NPM/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$az" \
        --location "$state/azurite" --skipApiVersionCheck --loose >"$state/azurite.log" 2>&1 &
    echo $! >"$state/azurite.pid"
    "$VENV/bin/gcp-storage-emulator" start --host 127.0.0.1 --port "$gcs" \
        --default-bucket "$BUCKET" --in-memory >"$state/gcs.log" 2>&1 &
    echo $! >"$state/gcs.pid"
    wait_for "http://127.0.0.1:$s3/"
    wait_for "http://127.0.0.1:$az/devstoreaccount1?comp=list"
    wait_for "http://127.0.0.1:$gcs/"
    "$VENV/bin/python" - "$s3" "$az" <<'PY' >&2
import sys, boto3
from azure.storage.blob import BlobServiceClient
s3, az = sys.argv[1:3]
boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3}", region_name="us-east-1",
             aws_access_key_id="test", aws_secret_access_key="test").create_bucket(Bucket="pipeline-test")
key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
conn = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={key};"
        f"BlobEndpoint=http://127.0.0.1:{az}/devstoreaccount1;")
BlobServiceClient.from_connection_string(conn).create_container("pipeline-test")
PY
    echo "export S3_TEST_ENDPOINT=http://127.0.0.1:$s3"
    echo "export AZURE_TEST_ENDPOINT=http://127.0.0.1:$az"
    echo "export GCS_TEST_ENDPOINT=http://127.0.0.1:$gcs"
}

stop() {
    local state="$1"
    for name in moto azurite gcs; do
        if [[ -f "$state/$name.pid" ]]; then
            kill "$(cat "$state/$name.pid")" 2>/dev/null || true
        fi
    done
}

case "${1:-}" in
    install) install ;;
    start) start "${2:?STATE_DIR}" ;;
    stop) stop "${2:?STATE_DIR}" ;;
    *) echo "usage: $0 install | start STATE_DIR | stop STATE_DIR" >&2; exit 2 ;;
esac
