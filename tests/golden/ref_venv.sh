#!/usr/bin/env bash
# Prints the python of the reference virtualenv (diffusers, transformers, sentencepiece, PyTorch CPU), creating
# it on first use. Every generator script, the training tool (engines/train) and bench:e2e run under it.
# Location: $HYDIT_REF_VENV, default ~/.cache/hydit-ref/venv (outside the repo). Progress goes to stderr.
set -euo pipefail
venv="${HYDIT_REF_VENV:-$HOME/.cache/hydit-ref/venv}"
pins=(diffusers==0.37.1 transformers==4.57.6 sentencepiece==0.2.3 safetensors==0.8.0 protobuf==7.36.2
  numpy==2.4.6 pillow==13.0.0)
stamp="$venv/.hydit-pins"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${pins[*]}" ]; then
  echo "creating the reference venv in $venv (PyTorch CPU, diffusers, transformers; about a minute)" >&2
  python3 -m venv "$venv" >&2
  # PyTorch 2.13.0: the CPU wheel on disk where there is one (PyPI's own build is the multi-GB CUDA one).
  torch=$(ls /opt/wheels/torch-2.13.0+cpu-*.whl 2>/dev/null | head -n 1 || true)
  # (This workplace's pip config names local indexes that may be absent; their warnings are noise.)
  "$venv/bin/pip" install -q --disable-pip-version-check "${torch:-torch==2.13.0}" "${pins[@]}" 2>&1 |
    { grep -v '^WARNING: Location' || true; } >&2
  echo "${pins[*]}" >"$stamp"
fi
echo "$venv/bin/python"
