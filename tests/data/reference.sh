# Sourced (bash) by the repository's scripts: where the reference fixtures are and how to read
# one of them. The repository stores the large CSVs gzip-compressed (X.csv.gz); a directory given
# in TT_REFERENCE_DIR may hold them plain (X.csv, the reference's original layout). Callers name
# the plain file and get its bytes either way.
#
#   tt_reference_dir            absolute reference directory: $TT_REFERENCE_DIR, else
#                               <repo>/tests/data/reference; fails if it has no golden/
#   tt_reference_cat REL        REL's uncompressed bytes on stdout
#   tt_reference_file REL DIR   path of a plain copy of REL: REL itself when stored plain,
#                               else REL.gz decompressed into DIR

tt_reference_dir() {
  local repo dir
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  dir=${TT_REFERENCE_DIR:-$repo/tests/data/reference}
  if [ ! -d "$dir/golden" ]; then
    echo "reference data not found at $dir (TT_REFERENCE_DIR overrides tests/data/reference)" >&2
    return 1
  fi
  (cd "$dir" && pwd)
}

tt_reference_cat() {
  local dir
  dir=$(tt_reference_dir) || return 1
  if [ -f "$dir/$1" ]; then
    cat "$dir/$1"
  elif [ -f "$dir/$1.gz" ]; then
    gzip -dc "$dir/$1.gz"
  else
    echo "reference file not found: $dir/$1 (nor $1.gz)" >&2
    return 1
  fi
}

tt_reference_file() {
  local dir out
  dir=$(tt_reference_dir) || return 1
  if [ -f "$dir/$1" ]; then
    echo "$dir/$1"
    return
  fi
  out="$2/$(basename "$1")"
  mkdir -p "$2"
  tt_reference_cat "$1" > "$out.tmp" && mv "$out.tmp" "$out" && echo "$out"
}
