#!/usr/bin/env python3
"""The 2-D denoiser of spec §6.3 in PyTorch, timed like bench/gostep.

Same layers and parameter names as levy's mlp package (55 010 parameters),
batch 1024, MSE to a fixed function of (x, τ), AdamW lr 5e-3, CPU,
2 threads. Prints the median step time over 200 steps after 20 warm-up
steps. Run with OPENBLAS_NUM_THREADS=1 (bench/compare.sh does).
"""
import statistics
import sys
import time

try:
    import torch
    from torch import nn
except ImportError:
    sys.exit("torch_mlp.py: PyTorch is not installed for this python3 "
             "(Debian: apt-get install -y python3-torch)")


class Block(nn.Module):
    def __init__(self, h, t):
        super().__init__()
        self.lin1, self.norm1 = nn.Linear(h, h), nn.LayerNorm(h)
        self.time = nn.Linear(t, h)
        self.lin2, self.norm2 = nn.Linear(h, h), nn.LayerNorm(h)

    def forward(self, x, temb):
        h = nn.functional.silu(self.norm1(self.lin1(x))) + nn.functional.silu(self.time(temb))
        h = self.norm2(self.lin2(h))
        return nn.functional.silu(h + x)


class In(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.lin, self.norm = nn.Linear(d, h), nn.LayerNorm(h)

    def forward(self, x):
        return nn.functional.silu(self.norm(self.lin(x)))


class MLP(nn.Module):
    def __init__(self, dim=2, hidden=64, blocks=5, temb=32):
        super().__init__()
        self.time = nn.Sequential(nn.Linear(1, temb), nn.SiLU(), nn.Linear(temb, temb), nn.SiLU())
        setattr(self, "in", In(dim, hidden))
        self.blocks = nn.ModuleList(Block(hidden, temb) for _ in range(blocks))
        self.out = nn.Linear(hidden, dim)

    def forward(self, x, tau):
        temb = self.time(tau)
        h = getattr(self, "in")(x)
        for b in self.blocks:
            h = b(h, temb)
        return self.out(h)


def main():
    torch.set_num_threads(2)
    torch.manual_seed(1)
    model = MLP()
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == 55010, n_params
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3)
    n = 1024
    x = torch.randn(n, 2)
    tau = torch.rand(n, 1)
    target = torch.stack([x[:, 1] * tau[:, 0], -x[:, 0]], dim=1)
    times = []
    for step in range(220):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        loss = ((model(x, tau) - target) ** 2).mean()
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if step >= 20:
            times.append(dt)
    med = statistics.median(times) * 1e3
    print(f"torch {torch.__version__}: {n_params} params, batch {n}, threads {torch.get_num_threads()}, "
          f"final loss {loss.item():.4g}")
    print(f"median_ms {med:.3f}")


if __name__ == "__main__":
    main()
