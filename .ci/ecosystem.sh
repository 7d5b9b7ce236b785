#!/usr/bin/env bash
# Ecosystem corpus (tests/ecosystem): real models of six Paddle families, each
# family group in its own virtualenv with pinned packages (tests/ecosystem/
# requirements-<env>.txt). Environments are cached in $ECO_ENV_DIR (default
# ~/.cache/paddle_flops_ext-ecosystem) and reused while their requirements file
# is unchanged; ECO_CLEAN=1 removes them afterwards. Needs only PyPI (at install
# time). Exits non-zero if any environment cannot be built or any test fails.
#   usage: .ci/ecosystem.sh [env ...]     (envs: cv nlp det ocr; default all)
set -uo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
eco="$repo/tests/ecosystem"
root="${ECO_ENV_DIR:-$HOME/.cache/paddle_flops_ext-ecosystem}"
mkdir -p "$root"
py="${PYTHON:-python3}"

declare -A TESTS=(
  [cv]="tests/ecosystem/test_clas.py tests/ecosystem/test_seg.py"
  [nlp]="tests/ecosystem/test_nlp.py tests/ecosystem/test_diffusion.py"
  [det]="tests/ecosystem/test_det.py"
  [ocr]="tests/ecosystem/test_ocr.py"
)
envs=("$@")
[ ${#envs[@]} -eq 0 ] && envs=(cv nlp det ocr)

stamp_of() {  # requirements content decides whether a cached env is still valid
  cat "$eco/requirements-$1.txt" "$eco"/requirements-"$1"-nodeps.txt 2>/dev/null | sha256sum | cut -d' ' -f1
}

build_env() {
  local name=$1 dir="$root/$1" stamp
  stamp="$(stamp_of "$name")"
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ] \
      && "$dir/bin/python" -c "import paddle, pytest" >/dev/null 2>&1; then
    echo "[$name] reusing $dir"
  else
    echo "[$name] creating $dir"
    rm -rf "$dir"
    "$py" -m venv "$dir" || return 1
    "$dir/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1
    "$dir/bin/python" -m pip install -q -r "$eco/requirements-$name.txt" || return 1
    if [ -f "$eco/requirements-$name-nodeps.txt" ]; then
      "$dir/bin/python" -m pip install -q --no-deps -r "$eco/requirements-$name-nodeps.txt" || return 1
    fi
    echo "$stamp" > "$dir/.stamp"
  fi
  # this checkout, without letting pip touch the pinned packages
  "$dir/bin/python" -m pip install -q prettytable >/dev/null 2>&1
  "$dir/bin/python" -m pip install -q --no-deps -e "$repo" >/dev/null || return 1
}

status=0
start=$SECONDS
for name in "${envs[@]}"; do
  t0=$SECONDS
  if ! build_env "$name"; then
    echo "[$name] environment could not be built" >&2
    status=1
    continue
  fi
  echo "[$name] environment ready in $((SECONDS - t0)) s; running ${TESTS[$name]}"
  t1=$SECONDS
  # shellcheck disable=SC2086
  "$root/$name/bin/python" -m pytest -q -p no:cacheprovider ${TESTS[$name]}
  rc=$?
  echo "[$name] tests exit $rc in $((SECONDS - t1)) s"
  [ $rc -ne 0 ] && status=1
done
echo "ecosystem: total $((SECONDS - start)) s, exit $status"
if [ "${ECO_CLEAN:-0}" = "1" ]; then rm -rf "$root"; fi
exit $status
