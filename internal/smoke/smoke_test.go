package smoke

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestGorgoniaInit fails (panics at init) if the assume-no-moving-gc pin
// in go.mod is lost: the old version refuses to run on Go 1.26.
func TestGorgoniaInit(t *testing.T) {
	g := G.NewGraph()
	x := G.NewVector(g, tensor.Float32, G.WithShape(3), G.WithName("x"), G.WithValue(tensor.New(tensor.WithBacking([]float32{1, 2, 3}))))
	s := G.Must(G.Sum(x))
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if got := s.Value().Data().(float32); got != 6 {
		t.Fatalf("sum = %v, want 6", got)
	}
}
