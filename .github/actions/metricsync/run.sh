#!/usr/bin/env bash
# The action's run step: runs one metricsync command, keeps its stdout and stderr in files,
# publishes exit-code, stdout-file and stderr-file, and fails unless the exit code is one of
# INPUT_OK_EXIT_CODES. tests/test_workflows.py runs this script as the workflows do.
set -uo pipefail

metricsync="${METRICSYNC_BIN:-metricsync}"
python="${METRICSYNC_PYTHON:-python3}"
outputs="${GITHUB_OUTPUT:-/dev/null}"
scratch="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/metricsync-output"
mkdir -p "$scratch"

# Split with shlex, never eval: inputs carry values from the pull request (target names).
words_file=$(mktemp "$scratch/words.XXXXXX")
if ! "$python" -c '
import os, shlex, sys
words = shlex.split(os.environ["INPUT_COMMAND"]) + shlex.split(os.environ.get("INPUT_ARGS", ""))
sys.stdout.write("".join(word + "\0" for word in words))
' >"$words_file"; then
  echo "::error title=metricsync action::cannot split the command and args inputs into words (unbalanced quotes?)"
  exit 64
fi
mapfile -d '' -t words <"$words_file"
rm -f "$words_file"

base=$(mktemp "$scratch/run.XXXXXX")
stdout_file="$base.stdout"
stderr_file="$base.stderr"

# stdout (the result) goes to its file; stderr (progress, errors) shows live and is kept.
{
  "$metricsync" "${words[@]}" 2>&1 1>&3 3>&- | tee "$stderr_file" >&2
  code=${PIPESTATUS[0]}
} 3>"$stdout_file"

# Print the result. Only `--format github` output is meant as workflow commands (annotations);
# anything else may quote user text such as a metric description, so the runner ignores them.
if [[ " ${words[*]} " == *" --format github "* ]]; then
  cat "$stdout_file"
else
  token="metricsync-$RANDOM$RANDOM$RANDOM"
  echo "::stop-commands::$token"
  cat "$stdout_file"
  echo "::$token::"
fi

{
  echo "exit-code=$code"
  echo "stdout-file=$stdout_file"
  echo "stderr-file=$stderr_file"
} >>"$outputs"

for ok in ${INPUT_OK_EXIT_CODES:-0}; do
  if [ "$code" = "$ok" ]; then
    exit 0
  fi
done

case "$code" in
  1) if [ "$INPUT_COMMAND" = verify ]; then
       meaning="a check failed, or a platform could not be reached"
     else
       meaning="error"
     fi ;;
  2) meaning="changes pending" ;;
  3) meaning="invalid config or definitions; nothing was sent" ;;
  4) meaning="apply finished partly; run it again to converge" ;;
  5) meaning="refused by a safety rule" ;;
  64) meaning="command-line usage error" ;;
  *) meaning="unexpected exit code" ;;
esac
reason=$(grep '^Error: ' "$stderr_file" | tail -n 1)
message="metricsync $INPUT_COMMAND exited $code ($meaning)${reason:+: ${reason#Error: }}"
message=${message//'%'/'%25'}
echo "::error title=metricsync $INPUT_COMMAND::$message"
if [ "$code" -eq 0 ]; then
  exit 1
fi
exit "$code"
