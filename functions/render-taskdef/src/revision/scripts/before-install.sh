# Makes sure the image, pinned by digest, is on this instance. A redeployment or a rollback
# finds it already there and starts without a pull.
if docker image inspect "$image" >/dev/null 2>&1; then
  log "image $image is already on this instance; no pull needed"
  exit 0
fi
#@LOGIN@
log "pulling $image"
if ! docker pull "$image" >/dev/null; then
  logout
  fail "could not pull $image; check that the instance reaches the registry and may read the repository"
fi
logout
log "pulled $image"
