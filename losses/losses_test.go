package losses

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/levy-ml/levy/schedule"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestValueByHand(t *testing.T) {
	out := []float64{1, 2, 0, 0, 3, -1}
	tgt := []float64{0, 0, 0, 0.5, 0, 1}
	// r = [1 2 0 | -0.5 3 -2], d = 3
	rms := (math.Sqrt(5.0/3) + math.Sqrt(13.25/3)) / 2
	mse := (1 + 4 + 0 + 0.25 + 9 + 4) / 6.0
	hub := (0.5 + 1.5 + 0 + 0.125 + 2.5 + 1.5) / 6
	for _, c := range []struct {
		k    Kind
		want float64
	}{{RMS, rms}, {MSE, mse}, {SmoothL1, hub}} {
		if got := Value(c.k, out, tgt, nil, 3); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: %v, want %v", c.k, got, c.want)
		}
	}
}

func TestValueGradientFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, d = 5, 4
	out, tgt := make([]float64, n*d), make([]float64, n*d)
	for i := range out {
		out[i] = 2 * rng.NormFloat64()
		tgt[i] = rng.NormFloat64()
	}
	for _, k := range []Kind{RMS, MSE, SmoothL1} {
		g := make([]float64, n*d)
		Value(k, out, tgt, g, d)
		for i := range out {
			h := 1e-6
			o := out[i]
			out[i] = o + h
			up := Value(k, out, tgt, nil, d)
			out[i] = o - h
			dn := Value(k, out, tgt, nil, d)
			out[i] = o
			if fd := (up - dn) / (2 * h); math.Abs(fd-g[i]) > 1e-7 {
				t.Errorf("%s: dL/dout[%d] = %v, finite difference %v", k, i, g[i], fd)
			}
		}
	}
}

func TestGraphOpMatchesHost(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, d = 6, 2
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		for _, k := range []Kind{RMS, MSE, SmoothL1} {
			o64, t64 := make([]float64, n*d), make([]float64, n*d)
			for i := range o64 {
				o64[i], t64[i] = 1.5*rng.NormFloat64(), rng.NormFloat64()
			}
			wantGrad := make([]float64, n*d)
			want := Value(k, o64, t64, wantGrad, d)

			g := G.NewGraph()
			var ov, tv tensor.Tensor
			if dt == tensor.Float64 {
				ov = tensor.New(tensor.WithShape(n, d), tensor.WithBacking(append([]float64(nil), o64...)))
				tv = tensor.New(tensor.WithShape(n, d), tensor.WithBacking(append([]float64(nil), t64...)))
			} else {
				o32, t32 := make([]float32, n*d), make([]float32, n*d)
				for i := range o64 {
					o32[i], t32[i] = float32(o64[i]), float32(t64[i])
				}
				ov = tensor.New(tensor.WithShape(n, d), tensor.WithBacking(o32))
				tv = tensor.New(tensor.WithShape(n, d), tensor.WithBacking(t32))
			}
			// out = 2·w with w learnable, so the chain rule through the op is exercised.
			w := G.NewMatrix(g, dt, G.WithShape(n, d), G.WithName("w"), G.WithValue(ov))
			tgt := G.NewMatrix(g, dt, G.WithShape(n, d), G.WithName("t"), G.WithValue(tv))
			two := G.NewConstant(2.0)
			if dt == tensor.Float32 {
				two = G.NewConstant(float32(2))
			}
			out := G.Must(G.Mul(w, two))
			loss, err := Graph(k, out, tgt)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := G.Grad(loss, w); err != nil {
				t.Fatal(err)
			}
			vm := G.NewTapeMachine(g, G.BindDualValues(w))
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			// Recompute the host reference at out = 2w.
			o2 := make([]float64, n*d)
			for i := range o64 {
				o2[i] = 2 * o64[i]
			}
			want = Value(k, o2, t64, wantGrad, d)
			tol := 1e-12
			if dt == tensor.Float32 {
				tol = 1e-5
			}
			var got float64
			switch v := loss.Value().Data().(type) {
			case float32:
				got = float64(v)
			case float64:
				got = v
			}
			if math.Abs(got-want) > tol*(1+math.Abs(want)) {
				t.Errorf("%v %s: loss %v, want %v", dt, k, got, want)
			}
			gv, _ := w.Grad()
			for i := range wantGrad {
				var gi float64
				switch s := gv.Data().(type) {
				case []float32:
					gi = float64(s[i])
				case []float64:
					gi = s[i]
				}
				if math.Abs(gi-2*wantGrad[i]) > tol*(1+math.Abs(wantGrad[i])) {
					t.Errorf("%v %s: dL/dw[%d] = %v, want %v", dt, k, i, gi, 2*wantGrad[i])
				}
			}
			vm.Close()
		}
	}
}

func TestPrepare(t *testing.T) {
	const n, d = 20000, 2
	x0 := make([]float32, n*d)
	for i := range x0 {
		x0[i] = float32(i%7) - 3
	}
	xt, tau, tgt := make([]float32, n*d), make([]float32, n), make([]float32, n*d)
	for _, cfg := range []Config{
		{Method: DLPM, Alpha: 1.7, T: 100},
		{Method: DDPM, T: 100},
		{Method: LIM, Alpha: 1.7},
		{Method: LIM, Alpha: 2},
	} {
		p, err := NewNoiser(cfg)
		if err != nil {
			t.Fatal(err)
		}
		p.Prepare(rand.New(rand.NewPCG(5, 6)), x0, d, xt, tau, tgt)
		var sumSq float64
		switch cfg.Method {
		case DLPM, DDPM:
			alpha := cfg.Alpha
			if cfg.Method == DDPM {
				alpha = 2
			}
			s, _ := schedule.NewDLPM(cfg.T, alpha)
			seen := map[int]bool{}
			for i := range n {
				k := int(math.Round(float64(tau[i]) * float64(cfg.T)))
				if k < 1 || k > cfg.T-1 {
					t.Fatalf("%s: τ = %v gives k = %d outside 1…T−1", cfg.Method, tau[i], k)
				}
				seen[k] = true
				for j := range d {
					want := s.BarGamma[k]*float64(x0[i*d+j]) + s.BarSigma[k]*float64(tgt[i*d+j])
					if math.Abs(float64(xt[i*d+j])-want) > 1e-5*(1+math.Abs(want)) {
						t.Fatalf("%s: x_t = %v, want γ̄x₀+σ̄ε = %v", cfg.Method, xt[i*d+j], want)
					}
				}
			}
			if len(seen) != cfg.T-1 {
				t.Errorf("%s: %d distinct k drawn, want all %d", cfg.Method, len(seen), cfg.T-1)
			}
		case LIM:
			l, _ := schedule.NewLIM(cfg.Alpha)
			c := -cfg.Alpha
			if cfg.Alpha == 2 {
				c = -1
			}
			for i := range n {
				tt := float64(tau[i])
				if tt < schedule.LIMTMin || tt > schedule.LIMTEnd {
					t.Fatalf("LIM: t = %v outside [t_min, T_end]", tt)
				}
				for j := range d {
					eps := c * float64(tgt[i*d+j])
					want := l.A(tt)*float64(x0[i*d+j]) + l.B(tt)*eps
					if math.Abs(float64(xt[i*d+j])-want) > 1e-4*(1+math.Abs(want)) {
						t.Fatalf("LIM α=%v: x_t = %v, want a x₀ + b ε = %v", cfg.Alpha, xt[i*d+j], want)
					}
				}
			}
		}
		if cfg.Method == DDPM || (cfg.Method == LIM && cfg.Alpha == 2) {
			// Unit Gaussian targets: E target² = 1, sd of the mean 4·√(2/nd).
			for _, v := range tgt {
				sumSq += float64(v) * float64(v)
			}
			if m := sumSq / (n * d); math.Abs(m-1) > 4*math.Sqrt(2.0/(n*d)) {
				t.Errorf("%s α=%v: E target² = %v, want 1", cfg.Method, cfg.Alpha, m)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, bad := range []Config{
		{Method: "gan", Alpha: 1.7, T: 100},
		{Method: DLPM, Alpha: 2.5, T: 100},
		{Method: DLPM, Alpha: 1.7, T: 1},
		{Method: LIM, Alpha: 0},
		{Method: DLPM, Alpha: 1.7, T: 100, ClampA: -1},
		{Method: DLPM, Alpha: 1.7, T: 100, Loss: "l3"},
	} {
		if _, err := NewNoiser(bad); err == nil {
			t.Errorf("NewNoiser(%+v) = nil error", bad)
		}
	}
	for _, m := range []string{DLPM, LIM, DDPM} {
		p, err := NewNoiser(Config{Method: m, Alpha: 1.7, T: 100})
		if err != nil {
			t.Fatal(err)
		}
		if p.Loss() != DefaultLoss(m) {
			t.Errorf("%s trains with %s, want %s", m, p.Loss(), DefaultLoss(m))
		}
	}
}
