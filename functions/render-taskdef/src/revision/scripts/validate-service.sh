# Waits until the container runs and, when configured, until its health URL answers as
# expected, within the hook's timeout less a margin: on failure the container's last log
# lines are printed before the reason, which CodeDeploy shows in the diagnostics.
now=$(date +%s)
end=$((now + budget))
tries=$(( budget / interval + 1 ))

failed() {
  printf '%s\n' "--- last $log_lines log lines of container $name ---"
  docker logs --tail "$log_lines" "$name" 2>&1 || printf '%s\n' "(no logs: container $name is gone)"
  printf '%s\n' "---"
  fail "$1"
}

attempt=0
while :; do
  attempt=$((attempt + 1))
  state=$(docker container inspect --format '{{.State.Status}}' "$name" 2>/dev/null) || state=missing
  [ "$state" = running ] && break
  now=$(date +%s)
  if [ "$attempt" -ge "$tries" ] || [ $((now + interval)) -gt "$end" ]; then
    failed "container $name is not running (state: $state) after ${budget}s"
  fi
  sleep "$interval"
done
log "container $name is running"
#@HEALTH@
