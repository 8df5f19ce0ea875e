#!/bin/sh
# Sandbox stand-in for production's systemd unit (Restart=always, RestartSec=1): whenever the app
# container is gone, start it again from the current image. Remove the container and it respawns
# from whatever `latest` points at now: that is how a deploy switches versions.
while :; do
  docker rm --force "$HERMES_APP" >/dev/null 2>&1
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) supervisor: starting $HERMES_APP from $HERMES_IMAGE"
  docker run --rm --name "$HERMES_APP" --network host --label "$HERMES_LABEL" \
    --env "HERMES_BIND=$HERMES_BIND" --env "HERMES_PORT=$HERMES_PORT" \
    "$HERMES_IMAGE" "$HERMES_REPO_DIR/build/hermes-app"
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) supervisor: $HERMES_APP exited with status $?"
  sleep 1
done
