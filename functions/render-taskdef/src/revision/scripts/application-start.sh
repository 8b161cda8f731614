# Starts the container from the pinned image with this revision's settings.
if docker container inspect "$name" >/dev/null 2>&1; then
  log "removing container $name left from before"
  docker rm --force "$name" >/dev/null
fi
set -- --detach --name "$name" --label "com.amazonaws.codedeploy.deployment-id=${DEPLOYMENT_ID:-}"
#@ARGS@
#@SECRETS@
set -- "$@" "$image"
#@COMMAND@
log "starting container $name from $image"
docker run "$@" >/dev/null || fail "docker run failed for container $name; see the message above"
#@CLEANUP@
log "container $name started"
