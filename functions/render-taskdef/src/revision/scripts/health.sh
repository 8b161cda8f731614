body=$(mktemp "${TMPDIR:-/tmp}/$name.health.XXXXXX")
trap 'rm -f "$body"' EXIT
# A try lasts at most probe_timeout seconds; no try starts that cannot end inside the
# budget, so the reason is printed before CodeDeploy stops the hook.
attempt=0
while :; do
  attempt=$((attempt + 1))
  # --globoff and --path-as-is: the URL is requested as written ([], {} and /../ in it
  # are not curl's globs or dot segments to squash).
  code=$(curl --silent --globoff --path-as-is --max-time "$probe_timeout" --output "$body" --write-out '%{http_code}' "$url" 2>/dev/null) || code=000
  if [ "$code" = "$expect_status" ] && { [ -z "$expect_text" ] || grep -F -q -e "$expect_text" "$body"; }; then
    log "$url answered $code"
    healthy=yes
    break
  fi
  if [ "$code" = 000 ]; then seen='no answer'; else seen="status $code"; fi
  now=$(date +%s)
  if [ "$attempt" -ge "$tries" ] || [ $((now + interval + probe_timeout)) -gt "$end" ]; then
    failed "$url did not answer $expect_status${expect_text:+ with \"$expect_text\"} within ${budget}s (last: $seen)"
  fi
  sleep "$interval"
done
