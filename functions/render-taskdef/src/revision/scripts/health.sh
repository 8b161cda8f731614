body=$(mktemp "${TMPDIR:-/tmp}/$name.health.XXXXXX")
trap 'rm -f "$body"' EXIT
attempt=0
while :; do
  attempt=$((attempt + 1))
  code=$(curl --silent --max-time 5 --output "$body" --write-out '%{http_code}' "$url" 2>/dev/null) || code=000
  if [ "$code" = "$expect_status" ] && { [ -z "$expect_text" ] || grep -F -q -e "$expect_text" "$body"; }; then
    log "$url answered $code"
    exit 0
  fi
  if [ "$code" = 000 ]; then seen='no answer'; else seen="status $code"; fi
  if [ "$attempt" -ge "$tries" ] || [ "$(date +%s)" -ge "$end" ]; then
    failed "$url did not answer $expect_status${expect_text:+ with \"$expect_text\"} within ${budget}s (last: $seen)"
  fi
  sleep "$interval"
done
