log() { printf '%s: %s\n' "$hook" "$*"; }
fail() { printf '%s: %s\n' "$hook" "$*" >&2; exit 1; }
