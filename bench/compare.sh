#!/bin/sh
# Times one training step (batch 1024, AdamW) of the 2-D denoiser in
# PyTorch (CPU, 2 threads) and in levy, one after the other, and prints
# both medians and their ratio. Run from anywhere in the repository.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import torch' 2>/dev/null; then
	echo "compare.sh: PyTorch is missing for $PY; install it (Debian: apt-get install -y python3-torch libopenblas0-pthread)" >&2
	exit 1
fi
torch_out=$(OPENBLAS_NUM_THREADS=1 "$PY" bench/torch_mlp.py)
echo "$torch_out"
go build -o /tmp/levy-gostep ./bench/gostep
go_out=$(/tmp/levy-gostep)
echo "$go_out"
t=$(echo "$torch_out" | awk '/^median_ms/ {print $2}')
g=$(echo "$go_out" | awk '/^median_ms/ {print $2}')
awk -v t="$t" -v g="$g" 'BEGIN { printf "pytorch %.2f ms/step, levy %.2f ms/step, levy/pytorch = %.2fx\n", t, g, g / t }'
