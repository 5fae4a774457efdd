# Sourced by the install and packages tests: `check DESCRIPTION COMMAND...` runs the command with
# its output in $log, prints "ok: ..." or "FAILED: ..." with the output's first lines, and adds
# failures to the `failed` array; `report_checks NAME` prints the failures and exits 1 if any.
failed=()
check() {  # description, command...
  local what=$1
  shift
  if "$@" >"$log" 2>&1; then
    echo "ok: $what"
  else
    echo "FAILED: $what"
    sed 's/^/    /' "$log" | head -25
    failed+=("$what")
  fi
}

report_checks() {  # test name
  if [ ${#failed[@]} -gt 0 ]; then
    echo "$1: ${#failed[@]} check(s) failed:"
    printf '  %s\n' "${failed[@]}"
    exit 1
  fi
  echo "$1 passed"
}
