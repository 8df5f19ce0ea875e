#!/bin/sh
# Sandbox stand-in for production's systemd unit (README: Restart=always, RestartSec=100ms): whenever the
# app container is gone, start it again from the current image. Remove the container and it respawns
# from whatever `latest` points at now: that is how a deploy switches versions.
# It respawns at once after a container that was killed (status 137: a deploy removed it, and every
# moment waited is an outage) or ran for a while, and waits a second after one that exited young by
# itself (a crash loop must not spin the engine).
while :; do
  docker rm --force "$HERMES_APP" >/dev/null 2>&1
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) supervisor: starting $HERMES_APP from $HERMES_IMAGE"
  started=$(date +%s)
  docker run --rm --name "$HERMES_APP" --network host --label "$HERMES_LABEL" \
    --env "HERMES_BIND=$HERMES_BIND" --env "HERMES_PORT=$HERMES_PORT" \
    "$HERMES_IMAGE" "$HERMES_REPO_DIR/build/hermes-app"
  status=$?
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) supervisor: $HERMES_APP exited with status $status"
  [ "$status" = 137 ] || [ $(($(date +%s) - started)) -ge 5 ] || sleep 1
done
