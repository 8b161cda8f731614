# Stops and removes the container of this name, whichever revision started it. Nothing to
# stop is fine: a first deployment, or a container removed by hand. The image stays on the
# instance, so that a rollback to it starts without a pull.
if ! docker container inspect "$name" >/dev/null 2>&1; then
  log "no container $name on this instance; nothing to stop"
  exit 0
fi
log "stopping container $name"
docker stop -t "$stop_grace" "$name" >/dev/null 2>&1 || log "container $name did not stop cleanly; removing it"
if ! docker rm --force "$name" >/dev/null 2>&1 && docker container inspect "$name" >/dev/null 2>&1; then
  fail "could not remove container $name; see 'docker ps -a' and the Docker daemon's log"
fi
log "container $name removed; its image stays on the instance"
