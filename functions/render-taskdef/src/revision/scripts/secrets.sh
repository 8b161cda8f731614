# Secrets are read now, on the instance, into a file only its owner can read (mode 600);
# it is removed as soon as Docker has read it, and on any exit.
umask 077
secret_file=$(mktemp "${TMPDIR:-/tmp}/$name.secrets.XXXXXX")
trap 'rm -f "$secret_file"' EXIT
trap 'exit 1' HUP INT TERM
nl='
'
# secret VARIABLE SOURCE COMMAND...: runs COMMAND and adds VARIABLE=<its output> to the file.
secret() {
  var=$1
  from=$2
  shift 2
  value=$("$@") || fail "could not read $var from $from; the instance role needs secretsmanager:GetSecretValue or ssm:GetParameter (and kms:Decrypt) on it"
  case $value in
    *"$nl"*) fail "$var from $from holds a line break, which a Docker env file cannot carry" ;;
    *) ;;
  esac
  printf '%s=%s\n' "$var" "$value" >>"$secret_file"
  value=''
}
