#!/usr/bin/env bash
# Set-up in one command: this package (editable) with its test and Dassl extras, Dassl itself from
# its repository, then a check that dassl, clip and vamp_prompt import.
#
#   bash scripts/install.sh                                  # clones Dassl next to this checkout
#   DASSL_SRC=/path/to/Dassl.pytorch bash scripts/install.sh # or installs a local checkout of it
#
# Environment:
#   PYTHON      the interpreter to install into (default: python; use a venv's or conda's)
#   DASSL_SRC   an existing checkout of Dassl.pytorch to install (nothing is downloaded for Dassl)
#   DASSL_DIR   where to clone Dassl when DASSL_SRC is unset (default: ../Dassl.pytorch beside this
#               checkout; reused if it is already there; never inside this checkout)
#   DASSL_REPO  the repository to clone (default: https://github.com/KaiyangZhou/Dassl.pytorch.git)
#   DASSL_REF   a branch, tag or commit to check out after cloning (default: the default branch)
# Install torch first if you need a particular build (CUDA version, CPU only): pip takes the
# default build from the package registry otherwise.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python}"
DASSL_REPO="${DASSL_REPO:-https://github.com/KaiyangZhou/Dassl.pytorch.git}"

step() { echo; echo "== $*"; }
die() { echo "ERROR: $*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null 2>&1 || die "no interpreter '$PYTHON'. Fix: set PYTHON to one."
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 9))' \
  || die "$("$PYTHON" -V 2>&1) is too old: Python 3.9 or newer is needed."

step "vamp_prompt (editable) with the test and Dassl extras, from $REPO"
"$PYTHON" -m pip install -e "${REPO}[test,dassl]"

if [ -n "${DASSL_SRC:-}" ]; then
  SRC="$(cd "$DASSL_SRC" 2>/dev/null && pwd)" || die "DASSL_SRC=$DASSL_SRC is not a folder."
  if [ ! -f "$SRC/setup.py" ] || [ ! -d "$SRC/dassl" ]; then
    die "DASSL_SRC=$SRC is not a Dassl.pytorch checkout (no setup.py and dassl/)."
  fi
  step "Dassl from the local checkout $SRC"
else
  SRC="${DASSL_DIR:-$(dirname "$REPO")/Dassl.pytorch}"
  mkdir -p "$(dirname "$SRC")"
  SRC="$(cd "$(dirname "$SRC")" && pwd)/$(basename "$SRC")"
  case "$SRC/" in
    "$REPO"/*) die "DASSL_DIR=$SRC is inside this checkout. Fix: choose a folder outside $REPO." ;;
  esac
  if [ -f "$SRC/setup.py" ] && [ -d "$SRC/dassl" ]; then
    step "Dassl: reusing the checkout in $SRC"
  else
    command -v git >/dev/null 2>&1 || die "git is needed to clone Dassl (or set DASSL_SRC)."
    step "Dassl: cloning $DASSL_REPO into $SRC"
    git clone "$DASSL_REPO" "$SRC"
    if [ -n "${DASSL_REF:-}" ]; then git -C "$SRC" checkout "$DASSL_REF"; fi
  fi
fi
# Dassl's setup.py imports numpy, so it is built without isolation, in this environment; its
# run-time dependencies came with the [dassl] extra above.
"$PYTHON" -m pip install --no-build-isolation --no-deps -e "$SRC"

step "Check"
OUTDATED_IGNORE=1 "$PYTHON" - <<'PY'
import warnings

warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
import clip
import dassl
import vamp_prompt
import vamp_prompt.engine

print(f"dassl {dassl.__version__} ({dassl.__file__})")
print(f"clip ({clip.__file__})")
print(f"vamp_prompt {vamp_prompt.__version__} ({vamp_prompt.__file__})")
PY
echo
echo "Installed. Next: bash scripts/vamp/demo.sh (CPU demo); python -m pytest -q -rs tests (tests)."
