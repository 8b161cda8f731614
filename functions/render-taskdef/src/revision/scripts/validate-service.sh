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

# The container's state and how often its restart policy has started it again; a
# container that exited and was started again is crashing, whatever its state now.
inspect() {
  seen=$(docker container inspect --format '{{.State.Status}} {{.RestartCount}}' "$name" 2>/dev/null) || seen='missing 0'
  state=${seen% *}
  restarts=${seen##* }
  if [ "$restarts" != 0 ]; then
    failed "container $name exited and its restart policy started it again $restarts time(s) (state: $state): it is crashing"
  fi
}

attempt=0
while :; do
  attempt=$((attempt + 1))
  inspect
  [ "$state" = running ] && break
  now=$(date +%s)
  if [ "$attempt" -ge "$tries" ] || [ $((now + interval)) -gt "$end" ]; then
    failed "container $name is not running (state: $state) after ${budget}s"
  fi
  sleep "$interval"
done
log "container $name is running"
healthy=''
#@HEALTH@
# Running at one moment is not enough (a crashing container is running between its
# restarts): it must still run, never restarted, after its health answered or, with no
# health check, one interval later when the budget has it.
if [ -z "$healthy" ]; then
  now=$(date +%s)
  if [ $((now + interval)) -le "$end" ]; then sleep "$interval"; fi
fi
inspect
[ "$state" = running ] || failed "container $name stopped (state: $state)"
log "container $name still runs and was not restarted"
