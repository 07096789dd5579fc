package engine_test

import (
	"errors"
	"testing"

	"github.com/levy-ml/levy/engine"
	"github.com/levy-ml/levy/engine/enginetest"
)

// TestMLPConforms runs the conformance suite on the CPU MLP engine.
func TestMLPConforms(t *testing.T) {
	enginetest.Run(t, enginetest.Suite{Spec: enginetest.TwoD(), New: engine.NewMLP})
}

// TestUNetConforms runs the conformance suite on the CPU U-Net engine,
// on a tiny U-Net and batch.
func TestUNetConforms(t *testing.T) {
	enginetest.Run(t, enginetest.Suite{Spec: enginetest.TinyImage(), New: engine.NewUNet, Steps: 30, Batch: 4})
}

// TestGPURequestSaysWhy: a GPU device goes to the probe, which today
// says there is no GPU engine.
func TestGPURequestSaysWhy(t *testing.T) {
	_, err := engine.New(engine.Config{Spec: enginetest.TwoD(), Device: 0})
	if !errors.Is(err, engine.ErrNoGPU) {
		t.Fatalf("New on GPU 0: %v, want ErrNoGPU", err)
	}
	if err := engine.CheckDevice(-1); err != nil {
		t.Fatalf("CheckDevice(-1): %v", err)
	}
	if err := engine.CheckDevice(-2); err == nil || errors.Is(err, engine.ErrNoGPU) {
		t.Fatalf("CheckDevice(-2): %v, want a bad device number", err)
	}
}
