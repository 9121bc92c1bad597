#!/usr/bin/env bash
# Nightly photo backup: laptop -> NAS ("larder"), with dated hard-link snapshots.
# Runs from cron at 02:30:   30 2 * * * /home/nadia/bin/backup_photos.sh
# Restore: every snapshot is a full tree, just copy files back out of
#   /volume1/photos/snapshots/YYYY-MM-DD/
set -euo pipefail

NAS_HOST="larder.local"
NAS_IP="192.168.1.40"          # fixed lease on the router
NAS_USER="backup"
NAS_BASE="/volume1/photos"
SRC_DIRS=("$HOME/Pictures/Phone" "$HOME/Pictures/Camera" "$HOME/Pictures/Scans")
KEEP_SNAPSHOTS=14               # daily snapshots kept on the NAS
BW_LIMIT_KBPS=5000              # don't saturate the wifi in the evenings
LOG="$HOME/.local/state/backup_photos.log"
TODAY="$(date +%F)"

log() { printf '%s %s\n' "$(date '+%F %T')" "$*" >>"$LOG"; }

mkdir -p "$(dirname "$LOG")"

if ! ping -c 1 -W 2 "$NAS_IP" >/dev/null 2>&1; then
    log "NAS $NAS_IP unreachable, skipping"
    exit 0
fi

LATEST="$(ssh "$NAS_USER@$NAS_HOST" "ls -1 $NAS_BASE/snapshots | sort | tail -n 1" || true)"
LINK_DEST=()
if [[ -n "$LATEST" ]]; then
    LINK_DEST=(--link-dest="$NAS_BASE/snapshots/$LATEST")
fi

for src in "${SRC_DIRS[@]}"; do
    [[ -d "$src" ]] || { log "missing $src"; continue; }
    name="$(basename "$src")"
    rsync -a --delete --bwlimit="$BW_LIMIT_KBPS" \
        --exclude '*.tmp' --exclude '.DS_Store' --exclude 'Thumbs.db' \
        "${LINK_DEST[@]/%//$name}" \
        "$src/" "$NAS_USER@$NAS_HOST:$NAS_BASE/snapshots/$TODAY/$name/"
    log "synced $src"
done

# prune: keep the newest $KEEP_SNAPSHOTS snapshots
ssh "$NAS_USER@$NAS_HOST" "cd $NAS_BASE/snapshots && ls -1 | sort | head -n -$KEEP_SNAPSHOTS | xargs -r rm -rf"
log "done, kept $KEEP_SNAPSHOTS snapshots"
