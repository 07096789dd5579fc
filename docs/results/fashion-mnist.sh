#!/usr/bin/env bash
# Recomputes docs/results/fashion-mnist.md's figures: the classifier, then
# DLPM, LIM and DDPM trained with one budget (examples/fashion-mnist-*.yaml:
# 1500 steps of 32 images, the 16-channel U-Net) on 2 workers through the
# distributed path, then 256 samples of each (DLIM from the DLPM model)
# scored with the classifier's features. About 2 hours on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
go build -o /tmp/levy-coordinator ./cmd/coordinator
go build -o /tmp/levyctl ./cmd/levyctl
[ -f weights/fashion-mnist-classifier.safetensors ] || /tmp/levyctl classifier --epochs 4 --lr 3e-3
for m in dlpm lim ddpm; do
  /usr/bin/time -f "%e s wall" /tmp/levy-coordinator --local --workers 2 --job examples/fashion-mnist-$m.yaml
done
out=docs/results/fashion-mnist
/tmp/levyctl sample --model runs/fashion-mnist-dlpm --sampler dlpm --steps 100 --n 256 --seed 7 --out $out/dlpm
/tmp/levyctl sample --model runs/fashion-mnist-dlpm --sampler dlim --steps 25 --n 256 --seed 7 --out $out/dlim
/tmp/levyctl sample --model runs/fashion-mnist-lim --sampler lim-sde --steps 100 --n 256 --seed 7 --out $out/lim
/tmp/levyctl sample --model runs/fashion-mnist-ddpm --sampler ddpm --steps 100 --n 256 --seed 7 --out $out/ddpm
/tmp/levyctl sample --model runs/fashion-mnist-lim --sampler lim-ode --steps 100 --n 256 --seed 7 --out $out/lim-ode
/tmp/levyctl sample --model runs/fashion-mnist-ddpm --sampler ddim --steps 25 --n 256 --seed 7 --out $out/ddim
# Twice the budget for DLPM: the README's example.
/usr/bin/time -f "%e s wall" /tmp/levy-coordinator --local --workers 2 --job examples/fashion-mnist.yaml
/tmp/levyctl sample --model runs/fashion-mnist-dlpm-3000 --sampler dlim --steps 25 --n 256 --seed 7 --out $out/dlim-3000
/tmp/levyctl sample --model runs/fashion-mnist-dlpm-3000 --sampler dlpm --steps 100 --n 256 --seed 7 --out $out/dlpm-3000
rm -f $out/*/samples.safetensors
