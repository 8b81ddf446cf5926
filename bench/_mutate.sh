# The `mutate` function that bench/sync_mutations.sh and bench/core_mutations.sh source: apply one edit to one
# file, run the named tests, print "killed" (they failed) or "SURVIVED", and put the file back.
mutate() {
  local name=$1 file=$2 old=$3 new=$4; shift 4
  cp "$file" "$file.mutation-backup"
  if ! python - "$file" "$old" "$new" <<'PY'
import sys
p, old, new = sys.argv[1:4]
s = open(p).read()
if old not in s:
    sys.exit(f"mutation anchor not found in {p}")
open(p, "w").write(s.replace(old, new, 1))
PY
  then echo "$name: ANCHOR MISSING (update this script)"; rm "$file.mutation-backup"; return; fi
  if timeout 900 python -m pytest -x -q -p no:cacheprovider "$@" >/dev/null 2>&1; then echo "$name: SURVIVED"; else echo "$name: killed"; fi
  mv "$file.mutation-backup" "$file"
}
